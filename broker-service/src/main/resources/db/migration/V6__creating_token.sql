-- When the Vault token that created a credential's lease dies. Vault revokes every lease together
-- with the token that created it, whatever the lease's own TTL, so the broker rotates a credential
-- before this time (credbroker.lease.token-expiry-margin). NULL for credentials recorded before this
-- migration: they were created with a replica's login token, whose death the broker never learned.
ALTER TABLE credential ADD COLUMN token_expire_time timestamptz;

-- The earliest such death among live credentials (a gauge, so that an alert can fire in time).
CREATE INDEX credential_live_token_expiry_idx ON credential (token_expire_time)
    WHERE state = 'ACTIVE';
