package io.credbroker.broker.setup;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Sets up a target database so that Vault's dynamic roles never leave objects behind that block
 * {@code DROP ROLE}: a NOLOGIN group role that owns the {@code public} schema, privileges only for
 * the group, the login role Vault administers the database with, and an event trigger that hands
 * every object a member of the group creates to the group at creation time.
 *
 * <p>Every step first reads the current state and only changes what differs, so a second run
 * changes nothing. Not thread-safe; use one instance per run. Each call opens and closes its own
 * connections.
 */
public final class TargetDatabaseSetup {

  /**
   * Schema of the ownership function; owned by the superuser so that no group member can replace or
   * drop it.
   */
  static final String OWNERSHIP_SCHEMA = "credbroker_ownership";

  static final String OWNERSHIP_FUNCTION = "hand_to_group";
  static final String EVENT_TRIGGER = "credbroker_hand_to_group";

  /**
   * Schema of the table in which the revocation statements record roles they revoked but could not
   * drop; owned by the superuser, changed by the Vault admin role only (a dynamic role must not be
   * able to erase its row).
   */
  static final String REVOCATION_SCHEMA = "credbroker_revocation";

  static final String UNDROPPED_TABLE = REVOCATION_SCHEMA + ".undropped_role";

  /** Every command that creates an object a dynamic role may own. */
  static final Set<String> TRIGGER_TAGS =
      Set.of(
          "CREATE TABLE",
          "CREATE TABLE AS",
          "SELECT INTO",
          "CREATE SEQUENCE",
          "CREATE FUNCTION",
          "CREATE PROCEDURE",
          "CREATE AGGREGATE",
          "CREATE VIEW",
          "CREATE MATERIALIZED VIEW",
          "CREATE FOREIGN TABLE",
          "CREATE TYPE",
          "CREATE DOMAIN",
          "CREATE SCHEMA");

  private static final String SYSTEM = "postgres";
  private static final String PUBLIC_SCHEMA_STEP =
      "schema public owned by the group, closed to PUBLIC";
  private static final String EXISTING_OBJECTS_STEP =
      "group privileges on existing objects in public";
  private static final String OWNERSHIP_SCHEMA_STEP =
      "schema " + OWNERSHIP_SCHEMA + " (superuser only)";
  private static final String FUNCTION_STEP =
      "function " + OWNERSHIP_SCHEMA + "." + OWNERSHIP_FUNCTION + "() (SECURITY DEFINER)";
  private static final String TRIGGER_STEP =
      "event trigger " + EVENT_TRIGGER + " (ddl_command_end)";
  private static final String UNDROPPED_STEP =
      "table " + UNDROPPED_TABLE + " (roles revoked but not yet dropped; group reads)";
  private static final String OTHER_DATABASES_STEP =
      "other databases closed to PUBLIC (no CONNECT or TEMPORARY for dynamic roles)";
  private static final String FUNCTION_SEARCH_PATH = "search_path=pg_catalog, pg_temp";

  /**
   * The first version in which a CREATEROLE role may alter, grant or drop only the roles it holds
   * ADMIN OPTION on.
   */
  private static final int ADMIN_OPTION_VERSION = 160000;

  /**
   * Roles that may still need ADMIN OPTION granted to the Vault admin (parameters: admin, group),
   * as a list of quoted names; a condition that picks the candidates is appended. ADMIN OPTION lets
   * the admin alter the role, grant it to itself and drop it, so only a role shaped like one Vault
   * issued qualifies: a login with a VALID UNTIL, without SUPERUSER, REPLICATION, BYPASSRLS,
   * CREATEROLE or CREATEDB, member of no role but the group, with no member but the admin, owning
   * no database, and not predefined. Anything else (an application's own role someone added to the
   * group or the undropped table, a role of pg_execute_server_program) stays out of the admin's
   * reach, as PostgreSQL 16 intends; a revocation leaves it recorded as undropped. So does a role
   * that is itself a member of the admin, as the grant would be circular. A missing admin or group
   * reads as OID 0.
   */
  private static final String MISSING_ADMIN_OPTION =
      "WITH a(oid) AS (SELECT coalesce((SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ?), 0)),"
          + " g(oid) AS (SELECT coalesce((SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ?), 0))"
          + " SELECT string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname)"
          + " FROM pg_catalog.pg_roles r, a, g"
          + " WHERE r.oid <> a.oid AND r.oid <> g.oid AND r.rolname !~ '^pg_'"
          + "   AND r.rolvaliduntil IS NOT NULL"
          + "   AND NOT (r.rolsuper OR r.rolreplication OR r.rolbypassrls OR r.rolcreaterole"
          + "     OR r.rolcreatedb)"
          + "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members o"
          + "     WHERE o.member = r.oid AND o.roleid <> g.oid)"
          + "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members o"
          + "     WHERE o.roleid = r.oid AND o.member <> a.oid)"
          + "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database d WHERE d.datdba = r.oid)"
          + "   AND NOT pg_catalog.pg_has_role(r.oid, a.oid, 'MEMBER')"
          + "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m"
          + "     WHERE m.roleid = r.oid AND m.member = a.oid AND m.admin_option)"
          + "   AND ";

  private final TargetDatabaseOptions options;

  public TargetDatabaseSetup(TargetDatabaseOptions options) {
    this.options = options;
  }

  public TargetDatabaseOptions options() {
    return options;
  }

  /**
   * Converges the database to the desired state, or with {@code dryRun} only reports what it would
   * do.
   *
   * @throws SetupException when PostgreSQL refuses a step; steps already done stay done and a rerun
   *     continues
   */
  public SetupReport apply(boolean dryRun) {
    List<StepResult> steps = new ArrayList<>();
    try (Connection cluster = connect(null)) {
      requireSuperuser(cluster);
      groupRole(cluster, dryRun, steps);
      adminRole(cluster, dryRun, steps);
      adminMemberships(cluster, dryRun, steps);
      boolean adminOptionNeeded = serverVersion(cluster) >= ADMIN_OPTION_VERSION;
      if (adminOptionNeeded) {
        adminOptionOnGroupMembers(cluster, dryRun, steps);
      }
      String template = options.templateDatabase();
      if (template != null) {
        boolean existed = databaseExists(cluster, template) != null;
        step(
            steps,
            dryRun,
            "template database " + Names.quoteIdent(template),
            existed ? Outcome.UNCHANGED : Outcome.CREATED,
            "CREATE DATABASE " + Names.quoteIdent(template),
            () -> exec(cluster, "CREATE DATABASE " + Names.quoteIdent(template)));
        databasePrivileges(cluster, template, dryRun, steps);
        insideDatabase(template, dryRun && !existed, adminOptionNeeded, dryRun, steps);
        Boolean isTemplate = databaseExists(cluster, template);
        step(
            steps,
            dryRun,
            "template flag on " + Names.quoteIdent(template),
            Boolean.TRUE.equals(isTemplate) ? Outcome.UNCHANGED : Outcome.UPDATED,
            "ALTER DATABASE " + Names.quoteIdent(template) + " WITH IS_TEMPLATE true",
            () ->
                exec(
                    cluster,
                    "ALTER DATABASE " + Names.quoteIdent(template) + " WITH IS_TEMPLATE true"));
      }
      String db = options.database();
      boolean existed = databaseExists(cluster, db) != null;
      String create =
          "CREATE DATABASE "
              + Names.quoteIdent(db)
              + (template == null ? "" : " TEMPLATE " + Names.quoteIdent(template));
      step(
          steps,
          dryRun,
          "database " + Names.quoteIdent(db),
          existed ? Outcome.UNCHANGED : Outcome.CREATED,
          create,
          () -> exec(cluster, create));
      databasePrivileges(cluster, db, dryRun, steps);
      insideDatabase(db, dryRun && !existed, adminOptionNeeded, dryRun, steps);
      otherDatabases(cluster, dryRun, steps);
    } catch (SQLException e) {
      throw new SetupException("PostgreSQL setup failed: " + e.getMessage(), e);
    }
    return new SetupReport(dryRun, steps);
  }

  /**
   * Gives the Vault admin role a new password, which Vault then replaces with {@code rotate-root}.
   * The password travels as a SCRAM verifier computed here, so it never appears in server logs.
   */
  public void setVaultAdminPassword(Secret password) {
    try (Connection cluster = connect(null)) {
      cluster
          .unwrap(PGConnection.class)
          .alterUserPassword(
              options.vaultAdminRole(), password.reveal().toCharArray(), "scram-sha-256");
    } catch (SQLException e) {
      throw new SetupException(
          "could not set the password of " + options.vaultAdminRole() + ": " + e.getMessage(), e);
    }
  }

  /**
   * A connection as the configured superuser to {@code database}, or to the admin URL's own
   * database when null.
   */
  Connection connect(@Nullable String database) throws SQLException {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(options.adminJdbcUrl());
    ds.setUser(options.adminUser());
    ds.setPassword(options.adminPassword().reveal());
    if (database != null) {
      ds.setDatabaseName(database);
    }
    ds.setApplicationName("credential-broker setup");
    return ds.getConnection();
  }

  /**
   * The body of the ownership function for one group, as PostgreSQL stores it in {@code
   * pg_proc.prosrc}.
   */
  static String ownershipFunctionBody(String groupRole) {
    return DynamicRoleStatements.resource("setup/hand-to-group.plpgsql")
        .replace("{{group}}", Names.quoteLiteral(groupRole));
  }

  static String createOwnershipFunction(String groupRole) {
    return "CREATE OR REPLACE FUNCTION "
        + OWNERSHIP_SCHEMA
        + "."
        + OWNERSHIP_FUNCTION
        + "() RETURNS event_trigger"
        + " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $credbroker$"
        + ownershipFunctionBody(groupRole)
        + "$credbroker$";
  }

  static String createEventTrigger() {
    return "CREATE EVENT TRIGGER "
        + EVENT_TRIGGER
        + " ON ddl_command_end WHEN TAG IN ("
        + String.join(", ", new TreeSet<>(TRIGGER_TAGS).stream().map(Names::quoteLiteral).toList())
        + ") EXECUTE FUNCTION "
        + OWNERSHIP_SCHEMA
        + "."
        + OWNERSHIP_FUNCTION
        + "()";
  }

  private void requireSuperuser(Connection cluster) throws SQLException {
    try (Statement st = cluster.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")) {
      if (!rs.next() || !rs.getBoolean(1)) {
        // Event triggers can only be created by a superuser; failing early leaves nothing half
        // done.
        throw new SetupException(
            "the PostgreSQL admin user " + options.adminUser() + " must be a superuser");
      }
    }
  }

  private void groupRole(Connection c, boolean dryRun, List<StepResult> steps) throws SQLException {
    String group = Names.quoteIdent(options.groupRole());
    Boolean canLogin =
        queryBoolean(
            c,
            "SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = ?",
            options.groupRole());
    if (canLogin == null) {
      step(
          steps,
          dryRun,
          "group role " + group + " (NOLOGIN)",
          Outcome.CREATED,
          "CREATE ROLE " + group + " NOLOGIN",
          () -> exec(c, "CREATE ROLE " + group + " NOLOGIN"));
    } else {
      step(
          steps,
          dryRun,
          "group role " + group + " (NOLOGIN)",
          canLogin ? Outcome.UPDATED : Outcome.UNCHANGED,
          "ALTER ROLE " + group + " NOLOGIN",
          () -> exec(c, "ALTER ROLE " + group + " NOLOGIN"));
    }
  }

  /**
   * The role Vault administers the database with: LOGIN CREATEROLE and nothing more. A role that
   * existed with more (SUPERUSER would let anyone holding Vault's connection run {@code COPY ...
   * PROGRAM}) is demoted.
   */
  private void adminRole(Connection c, boolean dryRun, List<StepResult> steps) throws SQLException {
    String admin = Names.quoteIdent(options.vaultAdminRole());
    String subject = "Vault admin role " + admin + " (LOGIN CREATEROLE only, not SUPERUSER)";
    Boolean ok =
        queryBoolean(
            c,
            "SELECT rolcanlogin AND rolcreaterole AND NOT rolsuper AND NOT rolcreatedb AND NOT rolreplication"
                + " AND NOT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = ?",
            options.vaultAdminRole());
    if (ok == null) {
      // No password yet: the Vault step sets a random one, hands it to Vault and has Vault rotate
      // it.
      step(
          steps,
          dryRun,
          subject,
          Outcome.CREATED,
          "CREATE ROLE " + admin + " LOGIN CREATEROLE",
          () -> exec(c, "CREATE ROLE " + admin + " LOGIN CREATEROLE"));
    } else {
      String alter =
          "ALTER ROLE "
              + admin
              + " LOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS";
      step(
          steps,
          dryRun,
          subject,
          ok ? Outcome.UNCHANGED : Outcome.UPDATED,
          alter,
          () -> exec(c, alter));
    }
  }

  /**
   * The admin grants the group to each new role (ADMIN OPTION, which PostgreSQL 16 requires of a
   * CREATEROLE role) and terminates a revoked role's sessions (pg_signal_backend), so it needs no
   * SUPERUSER.
   */
  private void adminMemberships(Connection c, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    boolean groupAdmin =
        Boolean.TRUE.equals(
            queryBoolean(
                c,
                "SELECT bool_or(m.admin_option) FROM pg_catalog.pg_auth_members m"
                    + " JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles a ON a.oid = m.member"
                    + " WHERE g.rolname = ? AND a.rolname = ?",
                options.groupRole(),
                options.vaultAdminRole()));
    boolean signal =
        Boolean.TRUE.equals(
            queryBoolean(
                c,
                "SELECT count(*) > 0 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles a ON a.oid = m.member"
                    + " WHERE m.roleid = 'pg_signal_backend'::regrole AND a.rolname = ?",
                options.vaultAdminRole()));
    String admin = Names.quoteIdent(options.vaultAdminRole());
    List<String> sql = new ArrayList<>();
    if (!groupAdmin) {
      sql.add(
          "GRANT " + Names.quoteIdent(options.groupRole()) + " TO " + admin + " WITH ADMIN OPTION");
    }
    if (!signal) {
      sql.add("GRANT pg_signal_backend TO " + admin);
    }
    Outcome outcome =
        sql.isEmpty()
            ? Outcome.UNCHANGED
            : (!groupAdmin && !signal ? Outcome.CREATED : Outcome.UPDATED);
    step(
        steps,
        dryRun,
        "memberships of " + admin + " (group with ADMIN OPTION, pg_signal_backend)",
        outcome,
        String.join("\n", sql),
        () -> exec(c, sql.toArray(String[]::new)));
  }

  /**
   * From PostgreSQL 16 on, the revocation statements can refuse the logins of a role, and drop it,
   * only when the Vault admin holds ADMIN OPTION on it. The admin gets that option on the roles it
   * creates, but not on a member of the group that someone else created, or that it created itself
   * before an upgrade from 15. The superuser grants it, without INHERIT or SET, on the roles shaped
   * like Vault's only (see {@link #MISSING_ADMIN_OPTION}): the control over them that CREATEROLE
   * gave up to PostgreSQL 15. ADMIN OPTION still lets the admin grant the role to itself, as the
   * revocation does to hand its objects over, hence the narrow choice.
   */
  private void adminOptionOnGroupMembers(Connection c, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    grantAdminOption(
        c,
        "ADMIN OPTION of "
            + Names.quoteIdent(options.vaultAdminRole())
            + " on the group's members (PostgreSQL 16+)",
        "EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m WHERE m.roleid = g.oid AND m.member = r.oid)",
        dryRun,
        steps);
  }

  /**
   * The roles a revocation could not drop, which need no longer be members of the group: a role
   * revoked on PostgreSQL 16 before setup gave the admin ADMIN OPTION on it stays behind with its
   * LOGIN until a later revocation can drop it.
   */
  private void adminOptionOnUndroppedRoles(
      Connection c, String in, boolean dryRun, List<StepResult> steps) throws SQLException {
    String subject = adminOptionOnUndroppedSubject() + in;
    boolean tableExists =
        queryBoolean(
                c,
                "SELECT true FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass(?)",
                UNDROPPED_TABLE)
            != null;
    if (!tableExists) {
      // Only in a dry run: the table is created by the step before.
      steps.add(new StepResult(SYSTEM, subject, Outcome.UNCHANGED, ""));
      return;
    }
    grantAdminOption(
        c,
        subject,
        "r.rolname IN (SELECT u.role_name FROM " + UNDROPPED_TABLE + " u)",
        dryRun,
        steps);
  }

  private String adminOptionOnUndroppedSubject() {
    return "ADMIN OPTION of "
        + Names.quoteIdent(options.vaultAdminRole())
        + " on roles in "
        + UNDROPPED_TABLE
        + " (PostgreSQL 16+)";
  }

  private void grantAdminOption(
      Connection c, String subject, String candidates, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    String missing;
    try (PreparedStatement ps = c.prepareStatement(MISSING_ADMIN_OPTION + candidates)) {
      ps.setString(1, options.vaultAdminRole());
      ps.setString(2, options.groupRole());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        missing = rs.getString(1);
      }
    }
    String sql =
        missing == null
            ? ""
            : "GRANT "
                + missing
                + " TO "
                + Names.quoteIdent(options.vaultAdminRole())
                + " WITH ADMIN OPTION, INHERIT FALSE, SET FALSE";
    step(
        steps,
        dryRun,
        subject,
        missing == null ? Outcome.UNCHANGED : Outcome.UPDATED,
        sql,
        () -> exec(c, sql));
  }

  private static int serverVersion(Connection c) throws SQLException {
    return (int) queryLong(c, "SELECT pg_catalog.current_setting('server_version_num')::int");
  }

  private void databasePrivileges(
      Connection c, String database, boolean dryRun, List<StepResult> steps) throws SQLException {
    String db = Names.quoteIdent(database);
    boolean publicHas = true;
    long groupPrivileges = 0;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a WHERE a.grantee = 0),"
                + " (SELECT count(DISTINCT a.privilege_type) FROM pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a"
                + "   WHERE a.grantee = r.oid)"
                + " FROM pg_catalog.pg_database d, pg_catalog.pg_roles r WHERE d.datname = ? AND r.rolname = ?")) {
      ps.setString(1, database);
      ps.setString(2, options.groupRole());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          publicHas = rs.getBoolean(1);
          groupPrivileges = rs.getLong(2);
        }
      }
    }
    List<String> sql = new ArrayList<>();
    if (publicHas) {
      sql.add("REVOKE ALL ON DATABASE " + db + " FROM PUBLIC");
    }
    if (groupPrivileges < 3) { // CONNECT, CREATE, TEMPORARY
      sql.add(
          "GRANT ALL PRIVILEGES ON DATABASE "
              + db
              + " TO "
              + Names.quoteIdent(options.groupRole()));
    }
    Outcome outcome =
        sql.isEmpty()
            ? Outcome.UNCHANGED
            : (groupPrivileges == 0 ? Outcome.CREATED : Outcome.UPDATED);
    step(
        steps,
        dryRun,
        "privileges on database " + db + " (group only)",
        outcome,
        String.join("\n", sql),
        () -> exec(c, sql.toArray(String[]::new)));
  }

  /**
   * Closes every other database of the cluster to PUBLIC, so that a dynamic role can connect to the
   * target database only. PostgreSQL privileges only add up: a PUBLIC grant cannot be taken from
   * one role, and a role that can connect to another database can leave things there that {@code
   * DROP ROLE}, run in the target database, cannot remove (a table in {@code public} before
   * PostgreSQL 15, a large object, default privileges for itself). So the PUBLIC grants of CONNECT
   * and TEMPORARY go, and each login role that had them through PUBLIC and is neither a superuser,
   * the database owner, a member of the group, nor a role with an expiry (someone's temporary
   * credential, whose drop a grant would block) gets them back by name; roles created later need an
   * explicit grant. {@code template0} accepts no connections and stays as it is.
   */
  private void otherDatabases(Connection c, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    String template =
        options.templateDatabase() == null ? options.database() : options.templateDatabase();
    List<String> sql = new ArrayList<>();
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT d.datname, (SELECT string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname) FROM pg_catalog.pg_roles r"
                + "   WHERE r.rolcanlogin AND NOT r.rolsuper AND r.rolvaliduntil IS NULL AND r.oid <> d.datdba"
                + "   AND r.rolname !~ '^pg_'"
                + "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = ? AND pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')))"
                + " FROM pg_catalog.pg_database d"
                + " WHERE d.datallowconn AND d.datname <> ? AND d.datname <> ?"
                + "   AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a"
                + "     WHERE a.grantee = 0 AND a.privilege_type IN ('CONNECT', 'TEMPORARY'))"
                + " ORDER BY 1")) {
      ps.setString(1, options.groupRole());
      ps.setString(2, options.database());
      ps.setString(3, template);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String db = Names.quoteIdent(rs.getString(1));
          sql.add("REVOKE CONNECT, TEMPORARY ON DATABASE " + db + " FROM PUBLIC");
          String keep = rs.getString(2);
          if (keep != null) {
            sql.add("GRANT CONNECT, TEMPORARY ON DATABASE " + db + " TO " + keep);
          }
        }
      }
    }
    step(
        steps,
        dryRun,
        OTHER_DATABASES_STEP,
        sql.isEmpty() ? Outcome.UNCHANGED : Outcome.UPDATED,
        String.join("\n", sql),
        () -> exec(c, sql.toArray(String[]::new)));
  }

  /**
   * The steps inside one database. With {@code absent} (a dry run before the database exists) there
   * is nothing to read, so every step is reported as a creation.
   */
  private void insideDatabase(
      String database,
      boolean absent,
      boolean adminOptionNeeded,
      boolean dryRun,
      List<StepResult> steps)
      throws SQLException {
    if (absent) {
      String in = " in " + Names.quoteIdent(database);
      for (String subject :
          List.of(
              PUBLIC_SCHEMA_STEP,
              EXISTING_OBJECTS_STEP,
              OWNERSHIP_SCHEMA_STEP,
              FUNCTION_STEP,
              TRIGGER_STEP,
              UNDROPPED_STEP)) {
        // A database about to be created holds no objects of its own that would need grants.
        boolean nothingToGrant = subject.equals(EXISTING_OBJECTS_STEP);
        steps.add(
            new StepResult(
                SYSTEM,
                subject + in,
                nothingToGrant ? Outcome.UNCHANGED : Outcome.CREATED,
                nothingToGrant ? "" : "(the database does not exist yet)"));
      }
      if (adminOptionNeeded) {
        // A database about to be created has no roles left undropped.
        steps.add(
            new StepResult(SYSTEM, adminOptionOnUndroppedSubject() + in, Outcome.UNCHANGED, ""));
      }
      return;
    }
    try (Connection c = connect(database)) {
      String in = " in " + Names.quoteIdent(database);
      publicSchema(c, in, dryRun, steps);
      existingObjects(c, in, dryRun, steps);
      ownershipSchema(c, in, dryRun, steps);
      ownershipFunction(c, in, dryRun, steps);
      eventTrigger(c, in, dryRun, steps);
      undroppedRoles(c, in, dryRun, steps);
      if (adminOptionNeeded) {
        adminOptionOnUndroppedRoles(c, in, dryRun, steps);
      }
    }
  }

  /**
   * The table the revocation statements write a role into when they revoked it (NOLOGIN, sessions
   * ended) but could not drop it, and from which later revocations retry the drop. Only the Vault
   * admin role may change it; the group (and so every dynamic role) may read it.
   */
  private void undroppedRoles(Connection c, String in, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    String subject = UNDROPPED_STEP + in;
    String admin = Names.quoteIdent(options.vaultAdminRole());
    String group = Names.quoteIdent(options.groupRole());
    // The group may read it: the broker has no database login of its own and reads it with a
    // credential it
    // borrows from the binding's Vault role (pods can read it too; they cannot change it).
    List<String> grants =
        List.of(
            "GRANT USAGE ON SCHEMA " + REVOCATION_SCHEMA + " TO " + admin + ", " + group,
            "GRANT SELECT, INSERT, UPDATE, DELETE ON " + UNDROPPED_TABLE + " TO " + admin,
            "GRANT SELECT ON " + UNDROPPED_TABLE + " TO " + group);
    boolean exists =
        queryBoolean(
                c,
                "SELECT true FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass(?)",
                UNDROPPED_TABLE)
            != null;
    if (!exists) {
      List<String> sql =
          new ArrayList<>(
              List.of(
                  "CREATE SCHEMA IF NOT EXISTS " + REVOCATION_SCHEMA,
                  "REVOKE ALL ON SCHEMA " + REVOCATION_SCHEMA + " FROM PUBLIC",
                  "CREATE TABLE "
                      + UNDROPPED_TABLE
                      + " (role_name text PRIMARY KEY,"
                      + " revoked_time timestamptz NOT NULL DEFAULT pg_catalog.now(), attempts integer NOT NULL DEFAULT 0,"
                      + " last_attempt_time timestamptz, last_error text)"));
      sql.addAll(grants);
      step(
          steps,
          dryRun,
          subject,
          Outcome.CREATED,
          String.join("\n", sql),
          () -> exec(c, sql.toArray(String[]::new)));
      return;
    }
    boolean granted =
        Boolean.TRUE.equals(
                queryBoolean(
                    c,
                    "SELECT pg_catalog.has_schema_privilege(r.oid, ?, 'USAGE') AND bool_and(pg_catalog.has_table_privilege(r.oid, ?, p))"
                        + " FROM pg_catalog.pg_roles r, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p WHERE r.rolname = ? GROUP BY r.oid",
                    REVOCATION_SCHEMA,
                    UNDROPPED_TABLE,
                    options.vaultAdminRole()))
            && Boolean.TRUE.equals(
                queryBoolean(
                    c,
                    "SELECT pg_catalog.has_schema_privilege(r.oid, ?, 'USAGE') AND pg_catalog.has_table_privilege(r.oid, ?, 'SELECT')"
                        + " FROM pg_catalog.pg_roles r WHERE r.rolname = ?",
                    REVOCATION_SCHEMA,
                    UNDROPPED_TABLE,
                    options.groupRole()));
    step(
        steps,
        dryRun,
        subject,
        granted ? Outcome.UNCHANGED : Outcome.UPDATED,
        String.join("\n", grants),
        () -> exec(c, grants.toArray(String[]::new)));
  }

  private void publicSchema(Connection c, String in, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    String group = Names.quoteIdent(options.groupRole());
    String subject = PUBLIC_SCHEMA_STEP + in;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT pg_catalog.pg_get_userbyid(n.nspowner) = ?,"
                + " EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a WHERE a.grantee = 0)"
                + " FROM pg_catalog.pg_namespace n WHERE n.nspname = 'public'")) {
      ps.setString(1, options.groupRole());
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          String sql = "CREATE SCHEMA public AUTHORIZATION " + group;
          step(steps, dryRun, subject, Outcome.CREATED, sql, () -> exec(c, sql));
          return;
        }
        List<String> sql = new ArrayList<>();
        if (!rs.getBoolean(1)) {
          sql.add("ALTER SCHEMA public OWNER TO " + group);
        }
        if (rs.getBoolean(2)) {
          sql.add("REVOKE ALL ON SCHEMA public FROM PUBLIC");
        }
        step(
            steps,
            dryRun,
            subject,
            sql.isEmpty() ? Outcome.UNCHANGED : Outcome.UPDATED,
            String.join("\n", sql),
            () -> exec(c, sql.toArray(String[]::new)));
      }
    }
  }

  /** Objects that existed before setup (created by someone else) become usable by the group. */
  private void existingObjects(Connection c, String in, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    String subject = EXISTING_OBJECTS_STEP + in;
    Boolean groupExists =
        queryBoolean(
            c, "SELECT true FROM pg_catalog.pg_roles WHERE rolname = ?", options.groupRole());
    long missing;
    if (groupExists == null) {
      // Dry run before the group exists: everything in public would need a grant.
      missing =
          queryLong(
              c,
              "SELECT (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r','p','v','m','f','S'))"
                  + " + (SELECT count(*) FROM pg_catalog.pg_proc WHERE pronamespace = 'public'::regnamespace)");
    } else {
      missing =
          queryLong(
              c,
              "WITH g(r) AS (SELECT ?::name)"
                  + " SELECT (SELECT count(*) FROM pg_catalog.pg_class c, g WHERE c.relnamespace = 'public'::regnamespace AND ("
                  + "   (c.relkind IN ('r','p','v','m','f') AND NOT (has_table_privilege(g.r, c.oid, 'SELECT') AND has_table_privilege(g.r, c.oid, 'INSERT')"
                  + "     AND has_table_privilege(g.r, c.oid, 'UPDATE') AND has_table_privilege(g.r, c.oid, 'DELETE') AND has_table_privilege(g.r, c.oid, 'TRUNCATE')"
                  + "     AND has_table_privilege(g.r, c.oid, 'REFERENCES') AND has_table_privilege(g.r, c.oid, 'TRIGGER')))"
                  + "   OR (c.relkind = 'S' AND NOT (has_sequence_privilege(g.r, c.oid, 'USAGE') AND has_sequence_privilege(g.r, c.oid, 'SELECT')"
                  + "     AND has_sequence_privilege(g.r, c.oid, 'UPDATE')))))"
                  + " + (SELECT count(*) FROM pg_catalog.pg_proc p, g WHERE p.pronamespace = 'public'::regnamespace"
                  + "   AND NOT has_function_privilege(g.r, p.oid, 'EXECUTE'))",
              options.groupRole());
    }
    String group = Names.quoteIdent(options.groupRole());
    List<String> sql =
        List.of(
            "GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO " + group,
            "GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public TO " + group,
            "GRANT ALL PRIVILEGES ON ALL FUNCTIONS IN SCHEMA public TO " + group);
    step(
        steps,
        dryRun,
        subject,
        missing == 0 ? Outcome.UNCHANGED : Outcome.UPDATED,
        missing == 0 ? "" : missing + " object(s) lack group privileges\n" + String.join("\n", sql),
        () -> exec(c, sql.toArray(String[]::new)));
  }

  private void ownershipSchema(Connection c, String in, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    String subject = OWNERSHIP_SCHEMA_STEP + in;
    Boolean ownerIsSuperuser =
        queryBoolean(
            c,
            "SELECT r.rolsuper FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner WHERE n.nspname = ?",
            OWNERSHIP_SCHEMA);
    if (ownerIsSuperuser == null) {
      List<String> sql =
          List.of(
              "CREATE SCHEMA " + OWNERSHIP_SCHEMA,
              "REVOKE ALL ON SCHEMA " + OWNERSHIP_SCHEMA + " FROM PUBLIC");
      step(
          steps,
          dryRun,
          subject,
          Outcome.CREATED,
          String.join("\n", sql),
          () -> exec(c, sql.toArray(String[]::new)));
    } else {
      String sql = "ALTER SCHEMA " + OWNERSHIP_SCHEMA + " OWNER TO CURRENT_USER";
      step(
          steps,
          dryRun,
          subject,
          ownerIsSuperuser ? Outcome.UNCHANGED : Outcome.UPDATED,
          sql,
          () -> exec(c, sql));
    }
  }

  private void ownershipFunction(Connection c, String in, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    String name = OWNERSHIP_SCHEMA + "." + OWNERSHIP_FUNCTION + "()";
    String subject = FUNCTION_STEP + in;
    Outcome outcome = Outcome.CREATED;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT p.prosrc, p.prosecdef, r.rolsuper, p.proconfig FROM pg_catalog.pg_proc p"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace JOIN pg_catalog.pg_roles r ON r.oid = p.proowner"
                + " WHERE n.nspname = ? AND p.proname = ? AND p.pronargs = 0")) {
      ps.setString(1, OWNERSHIP_SCHEMA);
      ps.setString(2, OWNERSHIP_FUNCTION);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          Array config = rs.getArray(4);
          boolean searchPath =
              config != null
                  && Arrays.asList((String[]) config.getArray()).contains(FUNCTION_SEARCH_PATH);
          boolean same =
              ownershipFunctionBody(options.groupRole()).equals(rs.getString(1))
                  && rs.getBoolean(2)
                  && rs.getBoolean(3)
                  && searchPath;
          outcome = same ? Outcome.UNCHANGED : Outcome.UPDATED;
        }
      }
    }
    String create = createOwnershipFunction(options.groupRole());
    step(
        steps,
        dryRun,
        subject,
        outcome,
        "CREATE OR REPLACE FUNCTION "
            + name
            + " (hands new objects of group members to "
            + Names.quoteIdent(options.groupRole())
            + ")",
        () ->
            exec(
                c,
                create,
                "ALTER FUNCTION " + name + " OWNER TO CURRENT_USER",
                "REVOKE ALL ON FUNCTION " + name + " FROM PUBLIC"));
  }

  private void eventTrigger(Connection c, String in, boolean dryRun, List<StepResult> steps)
      throws SQLException {
    String subject = TRIGGER_STEP + in;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT e.evtenabled, e.evtevent, e.evttags, n.nspname, p.proname FROM pg_catalog.pg_event_trigger e"
                + " JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
                + " WHERE e.evtname = ?")) {
      ps.setString(1, EVENT_TRIGGER);
      try (ResultSet rs = ps.executeQuery()) {
        String create = createEventTrigger();
        if (!rs.next()) {
          step(steps, dryRun, subject, Outcome.CREATED, create, () -> exec(c, create));
          return;
        }
        Array tags = rs.getArray(3);
        Set<String> actualTags = tags == null ? Set.of() : Set.of((String[]) tags.getArray());
        boolean sameDefinition =
            "ddl_command_end".equals(rs.getString(2))
                && TRIGGER_TAGS.equals(actualTags)
                && OWNERSHIP_SCHEMA.equals(rs.getString(4))
                && OWNERSHIP_FUNCTION.equals(rs.getString(5));
        boolean enabled = Set.of("O", "A").contains(rs.getString(1));
        if (!sameDefinition) {
          step(
              steps,
              dryRun,
              subject,
              Outcome.UPDATED,
              "DROP EVENT TRIGGER " + EVENT_TRIGGER + "\n" + create,
              () -> exec(c, "DROP EVENT TRIGGER " + EVENT_TRIGGER, create));
        } else {
          String enable = "ALTER EVENT TRIGGER " + EVENT_TRIGGER + " ENABLE";
          step(
              steps,
              dryRun,
              subject,
              enabled ? Outcome.UNCHANGED : Outcome.UPDATED,
              enable,
              () -> exec(c, enable));
        }
      }
    }
  }

  /** {@code datistemplate} of the database, or null when it does not exist. */
  private static @Nullable Boolean databaseExists(Connection c, String database)
      throws SQLException {
    return queryBoolean(
        c, "SELECT datistemplate FROM pg_catalog.pg_database WHERE datname = ?", database);
  }

  private interface SqlWork {
    void run() throws SQLException;
  }

  private static void step(
      List<StepResult> steps,
      boolean dryRun,
      String subject,
      Outcome outcome,
      String detail,
      SqlWork work)
      throws SQLException {
    if (outcome.isChange() && !dryRun) {
      try {
        work.run();
      } catch (SQLException e) {
        throw new SetupException("PostgreSQL step '" + subject + "' failed: " + e.getMessage(), e);
      }
    }
    steps.add(new StepResult(SYSTEM, subject, outcome, outcome.isChange() ? detail : ""));
  }

  private static void exec(Connection c, String... sql) throws SQLException {
    try (Statement st = c.createStatement()) {
      for (String s : sql) {
        st.execute(s);
      }
    }
  }

  private static @Nullable Boolean queryBoolean(Connection c, String sql, String... params)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setString(i + 1, params[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        boolean value = rs.getBoolean(1);
        return rs.wasNull() ? null : value;
      }
    }
  }

  private static long queryLong(Connection c, String sql, String... params) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setString(i + 1, params[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
