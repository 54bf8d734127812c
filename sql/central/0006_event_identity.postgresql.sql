-- An event's central identity is (machine, id) (issue 23): two machines' events with the
-- same id are two events, not one and a "duplicate".
ALTER TABLE command_events DROP CONSTRAINT command_events_id_key;

ALTER TABLE command_events ADD CONSTRAINT command_events_identity UNIQUE (machine, id);
