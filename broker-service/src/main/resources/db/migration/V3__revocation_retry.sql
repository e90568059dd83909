-- Revocations Vault has not confirmed yet. A row is written in the same transaction that ends the
-- credential, before Vault is asked, so that a crash between the two still leaves the lease to be
-- revoked by some replica. Any replica works the queue (FOR UPDATE SKIP LOCKED); a row disappears
-- only when Vault confirmed the revocation.
CREATE TABLE revocation_retry (
    credential_id     uuid        PRIMARY KEY REFERENCES credential (id),
    lease_id          text        NOT NULL,
    trigger           text        NOT NULL,
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_time timestamptz NOT NULL,
    -- A short classification of the last failure (never a Vault error text: it can echo input).
    last_failure      text,
    enqueued_time     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX revocation_retry_due_idx ON revocation_retry (next_attempt_time);
