-- Retention deletes the row of a replica whose heartbeat is older than
-- credbroker.retention.dead-replicas (rolling updates, crashes and reschedules start replicas with
-- new ids, so the table otherwise grows for good). A replica still named as the owner of a live
-- credential keeps its row, whoever deletes it: the takeover finds a dead replica's credentials only
-- through its row (it joins credential.owner_replica to the replicas it presumes dead), so those
-- credentials would otherwise be left with an owner nobody claims from, renewed and revoked by no
-- one. Ended credentials keep the name for the admin API, which does not need the row.
--
-- A trigger rather than a condition in the delete: the delete is the cluster package's (it owns
-- replica), the live credentials are the lease package's (it owns credential), and the rule holds
-- for any delete, as a foreign key would (none can: only live credentials count, and rows of ended
-- ones outlive their replica by design). A row it keeps is skipped; the statement deletes the others.
-- The index credential_live_by_owner_idx answers the check.
CREATE FUNCTION replica_keep_while_owning() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF EXISTS (SELECT 1 FROM credential WHERE owner_replica = OLD.id AND state = 'ACTIVE') THEN
        RETURN NULL;
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER replica_keep_while_owning
    BEFORE DELETE ON replica
    FOR EACH ROW EXECUTE FUNCTION replica_keep_while_owning();
