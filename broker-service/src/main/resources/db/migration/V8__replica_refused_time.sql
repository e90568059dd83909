-- The last time each replica refused a CredentialBroker call for load (shed at admission, or its
-- TokenReviews throttled), written with its heartbeat. A stream credential is not revoked as
-- abandoned until its reconnect grace has passed since the last refusal any replica published too
-- (up to credbroker.lease.reconnect-grace-limit after it was detached): a pod the cluster could not
-- let back in did not abandon its credential.
ALTER TABLE replica ADD COLUMN refused_time timestamptz;
