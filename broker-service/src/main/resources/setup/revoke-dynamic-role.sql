DO $revoke$
DECLARE
  dynamic_role constant text := '{{name}}';
  target_group constant text := {{group}};
  role_id oid;
  leftover record;
BEGIN
  -- Vault runs this block in one transaction, so nothing below may raise: an error would roll back
  -- the NOLOGIN and the session kill with it. The part that must hold comes first; every step that
  -- PostgreSQL may refuse runs in a savepoint that catches the error.
  SELECT r.oid INTO role_id FROM pg_catalog.pg_roles r WHERE r.rolname = dynamic_role;
  IF role_id IS NOT NULL THEN
    -- From PostgreSQL 16 on, altering, granting or dropping a role takes ADMIN OPTION on it. The Vault admin holds it
    -- on the roles it creates, but not on one created by someone else or before an upgrade from 15 until setup grants
    -- it. Then the NOLOGIN is refused, the drop below fails and records why, and the group grant goes if the admin
    -- made it; the sessions end in any case.
    BEGIN
      EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN VALID UNTIL %L', dynamic_role, 'epoch');
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'could not refuse logins of %: %', dynamic_role, SQLERRM;
    END;
    BEGIN
      EXECUTE pg_catalog.format('REVOKE %I FROM %I', target_group, dynamic_role);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'could not revoke % from %: %', target_group, dynamic_role, SQLERRM;
    END;
    -- Terminating the sessions of another role is what pg_signal_backend membership allows (no apostrophes in
    -- these comments: Vault finds END by counting quotes). The wait lets an ended session drop its temporary
    -- objects before the role is dropped below.
    PERFORM pg_catalog.pg_terminate_backend(a.pid, 5000) FROM pg_catalog.pg_stat_activity a WHERE a.usename = dynamic_role;
    -- Recorded for the sweep below, which drops it; a table that is gone or refused leaves the role undropped but
    -- must not undo the NOLOGIN and the REVOKE above.
    BEGIN
      INSERT INTO credbroker_revocation.undropped_role (role_name) VALUES (dynamic_role) ON CONFLICT (role_name) DO NOTHING;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'could not record % for its drop: %', dynamic_role, SQLERRM;
    END;
  END IF;
  -- Handing objects over waits for their locks (a long query, an idle transaction): the wait is bounded, so that the
  -- NOLOGIN above commits at once (until then a new login of the role would still succeed) and the other operations
  -- of this Vault connection, which Vault runs one at a time, are not held up; a drop that times out is retried.
  PERFORM pg_catalog.set_config('lock_timeout', '2s', true);
  -- Drops this role and retries a few that earlier revocations could not drop (objects in another database, a
  -- grant made by someone else); rows another revocation is working on are skipped. A dropped role loses its row,
  -- one that still cannot be dropped keeps it with the reason, for the broker and for the next sweep.
  BEGIN
    FOR leftover IN
      SELECT u.role_name FROM credbroker_revocation.undropped_role u
       ORDER BY u.role_name = dynamic_role DESC, u.last_attempt_time NULLS FIRST
       LIMIT 6 FOR UPDATE SKIP LOCKED
    LOOP
      -- A role recorded while its NOLOGIN was refused (PostgreSQL 16, before setup granted ADMIN OPTION on it) can still
      -- log in: its logins are refused here first, in a savepoint of their own, which a failed drop below cannot undo.
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = leftover.role_name AND rolcanlogin) THEN
          EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN VALID UNTIL %L', leftover.role_name, 'epoch');
          -- Sessions it opened meanwhile (in a database open to PUBLIC) end with its logins.
          PERFORM pg_catalog.pg_stat_clear_snapshot();
          PERFORM pg_catalog.pg_terminate_backend(a.pid) FROM pg_catalog.pg_stat_activity a WHERE a.usename = leftover.role_name;
        END IF;
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'could not refuse logins of %: %', leftover.role_name, SQLERRM;
      END;
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
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'could not sweep undropped roles: %', SQLERRM;
  END;
  -- Until this block commits, a new login does not see the NOLOGIN or the REVOKE above: a pool that reconnected
  -- while the drops waited for their locks holds sessions with the privileges of the group, which would outlive the
  -- revocation. They are ended here, last, by the id of the role (a dropped role has no name any more), so that only
  -- a login finished in the instant before the commit could remain. The list of sessions read above is kept for the
  -- whole transaction unless cleared, and would not show the new ones.
  IF role_id IS NOT NULL THEN
    PERFORM pg_catalog.pg_stat_clear_snapshot();
    PERFORM pg_catalog.pg_terminate_backend(a.pid) FROM pg_catalog.pg_stat_activity a WHERE a.usesysid = role_id;
  END IF;
END
$revoke$
