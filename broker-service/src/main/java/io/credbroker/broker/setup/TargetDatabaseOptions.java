package io.credbroker.broker.setup;

import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.postgresql.Driver;

/**
 * Where and what to set up in PostgreSQL. Names are validated on construction, so an invalid option
 * fails before any connection is made.
 *
 * @param adminJdbcUrl JDBC URL of a superuser connection, e.g. {@code
 *     jdbc:postgresql://db:5432/postgres}
 * @param adminUser the superuser (event triggers can only be created by a superuser)
 * @param adminPassword its password
 * @param database the target database, e.g. {@code db1}
 * @param groupRole the NOLOGIN role that owns the schema and everything dynamic roles create, e.g.
 *     {@code db1_grp}
 * @param vaultAdminRole the login role Vault's database engine connects as, e.g. {@code admin_db1};
 *     never {@code adminUser}, and no superuser (setup demotes it to LOGIN CREATEROLE)
 * @param templateDatabase when set, a template database set up the same way, from which the target
 *     database is created when it does not exist yet
 */
public record TargetDatabaseOptions(
    String adminJdbcUrl,
    String adminUser,
    Secret adminPassword,
    String database,
    String groupRole,
    String vaultAdminRole,
    @Nullable String templateDatabase) {

  public TargetDatabaseOptions {
    Objects.requireNonNull(adminJdbcUrl, "adminJdbcUrl");
    Objects.requireNonNull(adminPassword, "adminPassword");
    if (!adminJdbcUrl.startsWith("jdbc:postgresql:")) {
      throw new IllegalArgumentException(
          "the PostgreSQL admin URL must start with jdbc:postgresql:");
    }
    // Checked here, masked: the driver's own "URL invalid" error would print the URL's password.
    if (Driver.parseURL(adminJdbcUrl, null) == null) {
      throw new IllegalArgumentException(
          Masking.url(adminJdbcUrl) + " is not a valid PostgreSQL JDBC URL");
    }
    Objects.requireNonNull(adminUser, "adminUser");
    if (adminUser.isBlank()) {
      throw new IllegalArgumentException("the PostgreSQL admin user must not be empty");
    }
    Names.sqlName("database", database);
    Names.sqlName("group role", groupRole);
    Names.sqlName("Vault admin role", vaultAdminRole);
    if (templateDatabase != null) {
      Names.sqlName("template database", templateDatabase);
      if (templateDatabase.equals(database)) {
        throw new IllegalArgumentException(
            "the template database must differ from the target database");
      }
    }
    if (groupRole.equals(vaultAdminRole)) {
      throw new IllegalArgumentException("the group role and the Vault admin role must differ");
    }
    // Setup would take SUPERUSER from it, and Vault's rotate-root would leave its password known to
    // Vault alone.
    if (adminUser.equals(vaultAdminRole)) {
      throw new IllegalArgumentException(
          "the Vault admin role must differ from the PostgreSQL admin user "
              + adminUser
              + ": Vault rotates its password and it must not be a superuser");
    }
  }

  /**
   * The defaults of the reference setup for one database: {@code <db>_grp} and {@code admin_<db>}.
   */
  public static TargetDatabaseOptions defaults(
      String adminJdbcUrl, String adminUser, Secret adminPassword, String database) {
    return new TargetDatabaseOptions(
        adminJdbcUrl,
        adminUser,
        adminPassword,
        database,
        database + "_grp",
        "admin_" + database,
        null);
  }

  public TargetDatabaseOptions withTemplateDatabase(@Nullable String template) {
    return new TargetDatabaseOptions(
        adminJdbcUrl, adminUser, adminPassword, database, groupRole, vaultAdminRole, template);
  }

  @Override
  public String toString() {
    return "TargetDatabaseOptions[adminJdbcUrl="
        + Masking.url(adminJdbcUrl)
        + ", adminUser="
        + adminUser
        + ", adminPassword="
        + Secret.MASK
        + ", database="
        + database
        + ", groupRole="
        + groupRole
        + ", vaultAdminRole="
        + vaultAdminRole
        + ", templateDatabase="
        + templateDatabase
        + "]";
  }
}
