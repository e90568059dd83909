-- Lease lifecycle: the renewal schedule, the stream a credential is attached to, rotation and the
-- reconnect grace. The owning replica (owner_replica) looks at a live credential again at
-- next_action_time; only credentials due soon are held in memory, everything else waits here.
ALTER TABLE credential
    -- The lifetime each renewal asks Vault for (the TTL granted at issue).
    ADD COLUMN lease_ttl_seconds bigint,
    -- When the owner renews next; NULL when nobody renews it (one-shot, replaced, capped).
    ADD COLUMN renewal_due_time  timestamptz,
    -- The earliest time the owner must look at the credential again (renewal, grace end, expiry).
    ADD COLUMN next_action_time  timestamptz,
    -- The stream holding the credential; NULL when no stream does (detached, one-shot, replaced).
    ADD COLUMN stream_id         uuid,
    -- Set once a rotation replaced this credential: it is revoked at that time, for revoke_trigger.
    ADD COLUMN revoke_after      timestamptz,
    ADD COLUMN revoke_trigger    text,
    -- Consecutive renewals that could not reach Vault; drives the retry backoff.
    ADD COLUMN renewal_failures  integer     NOT NULL DEFAULT 0,
    -- Whether the stream was told that the credential may expire unrenewed (reset by a renewal).
    ADD COLUMN expiring_notified boolean     NOT NULL DEFAULT false;

-- Credentials recorded before this migration are looked at once more when they run out.
UPDATE credential SET next_action_time = expire_time WHERE state = 'ACTIVE';

-- What each replica's scheduler loads: its own live credentials due soon.
CREATE INDEX credential_due_idx ON credential (owner_replica, next_action_time)
    WHERE state = 'ACTIVE';
CREATE INDEX credential_stream_idx ON credential (stream_id) WHERE stream_id IS NOT NULL;
CREATE INDEX credential_replaces_idx ON credential (replaces) WHERE replaces IS NOT NULL;
