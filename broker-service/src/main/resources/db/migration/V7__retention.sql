-- Retention (credbroker.retention.*): ended credentials and audit events older than their retention
-- are deleted in batches. A credential that replaced a deleted one forgets it (its predecessor ended
-- long ago), instead of keeping a chain of rotations alive forever.
ALTER TABLE credential DROP CONSTRAINT credential_replaces_fkey;
ALTER TABLE credential ADD CONSTRAINT credential_replaces_fkey
    FOREIGN KEY (replaces) REFERENCES credential (id) ON DELETE SET NULL;

CREATE INDEX credential_ended_idx ON credential (end_time) WHERE state <> 'ACTIVE';
