DO $revoke$
DECLARE
  dynamic_role constant text := '{{name}}';
  target_group constant text := {{group}};
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = dynamic_role) THEN
    EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN', dynamic_role);
    -- Terminating the sessions of another role is what pg_signal_backend membership allows (no apostrophes in
    -- these comments: Vault finds END by counting quotes).
    PERFORM pg_catalog.pg_terminate_backend(a.pid) FROM pg_catalog.pg_stat_activity a WHERE a.usename = dynamic_role;
    -- REASSIGN OWNED and DROP OWNED need the privileges of the role itself, and the Vault admin is not a
    -- superuser (CREATEROLE may grant itself any non-superuser role); the grant disappears with DROP ROLE.
    EXECUTE pg_catalog.format('GRANT %I TO CURRENT_USER', dynamic_role);
    EXECUTE pg_catalog.format('REASSIGN OWNED BY %I TO %I', dynamic_role, target_group);
    EXECUTE pg_catalog.format('DROP OWNED BY %I', dynamic_role);
    EXECUTE pg_catalog.format('DROP ROLE %I', dynamic_role);
  END IF;
END
$revoke$
