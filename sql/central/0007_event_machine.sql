-- Labels and central scores name their event by (machine, id), the event's central identity
-- (issue 23; 0006 made it so for events): an id alone may belong to two machines' events.
-- labels.machine is who pushed the label (its token); event_machine is the machine of the
-- event it labels: the same, except for an admin token's label of another machine's event.
ALTER TABLE labels ADD COLUMN event_machine TEXT;

UPDATE labels SET event_machine = machine
WHERE EXISTS (SELECT 1 FROM command_events AS e WHERE e.machine = labels.machine AND e.id = labels.event_id);

-- an admin's label of another machine's event: the machine holding that id (the first by
-- name if several do; such a label was ambiguous before this migration)
UPDATE labels SET event_machine = coalesce(
    (SELECT min(e.machine) FROM command_events AS e WHERE e.id = labels.event_id), machine)
WHERE event_machine IS NULL;

CREATE INDEX labels_event_machine ON labels (event_machine, event_id, created_at);

ALTER TABLE event_scores ADD COLUMN machine TEXT;

UPDATE event_scores SET machine = (SELECT min(e.machine) FROM command_events AS e WHERE e.id = event_scores.event_id);

CREATE INDEX event_scores_machine_event ON event_scores (machine, event_id);
