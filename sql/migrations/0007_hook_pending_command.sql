-- A start (an agent's Pre/Before hook) keeps what its event needs should no end ever come: an
-- interrupt the agent reports to no hook, a call the user rejected, a command still running
-- when the turn ends. The command's keyed hash and program and its repository id, never its
-- text or folder. NULL for starts recorded before this migration, and for the markers of
-- calls already recorded (call_key 'recorded:<call id>').
ALTER TABLE hook_pending ADD COLUMN command_hash TEXT;
ALTER TABLE hook_pending ADD COLUMN program TEXT;
ALTER TABLE hook_pending ADD COLUMN repo_id TEXT;
