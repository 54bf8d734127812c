-- A label's identity includes the machine that pushed it (issue 23): `client_label_id` is a
-- local store's label id (1, 2, ...), so without the machine another machine could claim a
-- label's identity first and the real one would come back a "duplicate".
ALTER TABLE labels DROP CONSTRAINT labels_event_id_client_label_id_key;

ALTER TABLE labels ADD CONSTRAINT labels_identity UNIQUE (machine, event_id, client_label_id);
