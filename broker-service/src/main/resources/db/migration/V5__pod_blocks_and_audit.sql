-- Pods an operator revoked, by UID: every replica refuses them new credentials. A replacement pod
-- has a new UID and is not blocked. Rows are never deleted by the broker: a UID is never reused.
CREATE TABLE pod_block (
    pod_uid      text        PRIMARY KEY,
    namespace    text        NOT NULL,
    pod_name     text        NOT NULL,
    reason       text        NOT NULL,
    blocked_by   text        NOT NULL,
    blocked_time timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX pod_block_pod_idx ON pod_block (namespace, pod_name);

-- What operators did through the admin API: who, when, why, to which pod, which PostgreSQL users.
-- Append-only; never a password or token.
CREATE TABLE audit_event (
    id             bigserial   PRIMARY KEY,
    event_time     timestamptz NOT NULL DEFAULT now(),
    actor          text        NOT NULL,
    action         text        NOT NULL,
    namespace      text        NOT NULL,
    pod_name       text,
    pod_uids       text[]      NOT NULL,
    credential_ids uuid[]      NOT NULL,
    usernames      text[]      NOT NULL,
    reason         text        NOT NULL,
    replica        text        NOT NULL
);

CREATE INDEX audit_event_time_idx ON audit_event (event_time DESC, id DESC);
CREATE INDEX audit_event_pod_idx ON audit_event (namespace, pod_name, event_time DESC);

-- The last line of defence against a race between blocking a pod and issuing to it on another
-- replica: a credential row for a blocked pod UID cannot be written. The advisory lock pairs with
-- the one the revocation takes while it writes the block, so either the block is committed first
-- (and this insert fails), or this insert is committed first (and the revocation, which lists the
-- pod's live credentials after its block commits, sees it and revokes it).
CREATE FUNCTION credential_refuse_blocked_pod() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.pod_uid IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('credbroker.pod_block:' || NEW.pod_uid, 0));
    IF EXISTS (SELECT 1 FROM pod_block WHERE pod_uid = NEW.pod_uid) THEN
        RAISE EXCEPTION 'pod % is revoked', NEW.pod_uid USING ERRCODE = 'CB001';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER credential_refuse_blocked_pod
    BEFORE INSERT ON credential
    FOR EACH ROW EXECUTE FUNCTION credential_refuse_blocked_pod();
