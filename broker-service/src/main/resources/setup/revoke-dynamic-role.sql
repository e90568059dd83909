DO $revoke$
DECLARE
  dynamic_role constant text := '{{name}}';
  target_group constant text := {{group}};
  leftover record;
BEGIN
  -- Vault runs this block in one transaction, so nothing below may raise: an error would roll back
  -- the NOLOGIN and the session kill with it. The part that must hold comes first and cannot fail
  -- for a role the Vault admin created; the drop follows in savepoints that catch every error.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = dynamic_role) THEN
    EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN VALID UNTIL %L', dynamic_role, 'epoch');
    EXECUTE pg_catalog.format('REVOKE %I FROM %I', target_group, dynamic_role);
    -- Terminating the sessions of another role is what pg_signal_backend membership allows (no apostrophes in
    -- these comments: Vault finds END by counting quotes). The wait lets an ended session drop its temporary
    -- objects before the role is dropped below.
    PERFORM pg_catalog.pg_terminate_backend(a.pid, 5000) FROM pg_catalog.pg_stat_activity a WHERE a.usename = dynamic_role;
    INSERT INTO credbroker_revocation.undropped_role (role_name) VALUES (dynamic_role) ON CONFLICT (role_name) DO NOTHING;
  END IF;
  -- Handing objects over waits for their locks (a long query, an idle transaction): the wait is bounded, so that the
  -- NOLOGIN above commits at once (until then a new login of the role would still succeed) and the other operations
  -- of this Vault connection, which Vault runs one at a time, are not held up; a drop that times out is retried.
  PERFORM pg_catalog.set_config('lock_timeout', '2s', true);
  -- Drops this role and retries a few that earlier revocations could not drop (objects in another database, a
  -- grant made by someone else); rows another revocation is working on are skipped. A dropped role loses its row,
  -- one that still cannot be dropped keeps it with the reason, for the broker and for the next sweep.
  FOR leftover IN
    SELECT u.role_name FROM credbroker_revocation.undropped_role u
     ORDER BY u.role_name = dynamic_role DESC, u.last_attempt_time NULLS FIRST
     LIMIT 6 FOR UPDATE SKIP LOCKED
  LOOP
    BEGIN
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = leftover.role_name) THEN
        -- REASSIGN OWNED and DROP OWNED need the privileges of the role itself, and the Vault admin is not a
        -- superuser (CREATEROLE may grant itself any non-superuser role); the grant disappears with DROP ROLE.
        EXECUTE pg_catalog.format('GRANT %I TO CURRENT_USER', leftover.role_name);
        EXECUTE pg_catalog.format('REASSIGN OWNED BY %I TO %I', leftover.role_name, target_group);
        EXECUTE pg_catalog.format('DROP OWNED BY %I', leftover.role_name);
        EXECUTE pg_catalog.format('DROP ROLE %I', leftover.role_name);
      END IF;
      DELETE FROM credbroker_revocation.undropped_role WHERE role_name = leftover.role_name;
    EXCEPTION WHEN OTHERS THEN
      UPDATE credbroker_revocation.undropped_role
         SET attempts = attempts + 1, last_attempt_time = pg_catalog.now(), last_error = SQLERRM
       WHERE role_name = leftover.role_name;
    END;
  END LOOP;
END
$revoke$
