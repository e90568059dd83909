-- Credentials the broker issued: one row per Vault lease. Never a password.
-- state is kept as text without a check constraint so that later lifecycle states need no
-- constraint rewrite; the Java enum CredentialState is the list of valid values.
CREATE TABLE credential (
    id                uuid        PRIMARY KEY,
    database_role     text        NOT NULL,
    vault_mount       text        NOT NULL,
    vault_role        text        NOT NULL,
    lease_id          text        NOT NULL UNIQUE,
    username          text        NOT NULL,
    namespace         text        NOT NULL,
    service_account   text        NOT NULL,
    pod_name          text,
    pod_uid           text,
    kind              text        NOT NULL,
    state             text        NOT NULL,
    renewable         boolean     NOT NULL,
    owner_replica     text,
    issue_time        timestamptz NOT NULL,
    expire_time       timestamptz NOT NULL,
    max_expire_time   timestamptz,
    last_renewal_time timestamptz,
    detached_time     timestamptz,
    replaces          uuid        REFERENCES credential (id),
    end_time          timestamptz,
    end_reason        text,
    updated_time      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credential_kind_valid CHECK (kind IN ('STREAM', 'ONE_SHOT')),
    CONSTRAINT credential_pod_identity_complete CHECK ((pod_name IS NULL) = (pod_uid IS NULL))
);

-- "Which pod holds PostgreSQL user X?" and "everything of pod P".
CREATE INDEX credential_username_idx ON credential (username);
CREATE INDEX credential_pod_idx ON credential (namespace, pod_name);
CREATE INDEX credential_pod_uid_idx ON credential (pod_uid);
-- Live leases per owning replica, ordered by expiry: what renewal and failover scan.
CREATE INDEX credential_live_by_owner_idx ON credential (owner_replica, expire_time)
    WHERE state = 'ACTIVE';
