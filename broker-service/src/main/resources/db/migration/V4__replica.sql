-- Broker replicas sharing this state database. Each writes heartbeat_time periodically (database
-- time, so that replicas' clocks do not matter). The live credentials of a replica whose heartbeat is
-- stale (or which stopped) are claimed by the others.
CREATE TABLE replica (
    id             text        PRIMARY KEY,
    started_time   timestamptz NOT NULL DEFAULT now(),
    heartbeat_time timestamptz NOT NULL DEFAULT now(),
    -- Set when the replica shut down cleanly: its credentials are claimed at once.
    stopped_time   timestamptz,
    -- Set by the replica that claimed this one's credentials; a replica that finds it set on its own
    -- row was presumed dead (e.g. a long pause) and gives up its streams.
    claimed_time   timestamptz
);
