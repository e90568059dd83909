package io.credbroker.broker.setup;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The SQL Vault runs to create and to revoke a dynamic role, for one group role.
 *
 * <p>Vault's PostgreSQL plugin splits a statement on every {@code ;} unless the statement contains
 * the word {@code END} outside quotes. Creation is therefore written as plain statements without
 * semicolons inside them; revocation is one {@code DO} block (it contains {@code END}, so it runs
 * whole) because it needs a condition and dynamic SQL.
 */
public final class DynamicRoleStatements {

  private DynamicRoleStatements() {}

  /**
   * Creates a login role that expires with its lease and is a member of the group. No grant on any
   * object: every privilege comes from the group, so catalog ACLs never grow with the number of
   * roles issued.
   */
  public static List<String> creation(String groupRole) {
    Names.sqlName("group role", groupRole);
    return List.of(
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; "
            + "GRANT "
            + Names.quoteIdent(groupRole)
            + " TO \"{{name}}\";");
  }

  /**
   * Refuses new logins, terminates the role's sessions, hands anything it still owns to the group,
   * and drops it. A role that is already gone counts as revoked, so a retried revocation succeeds.
   */
  public static List<String> revocation(String groupRole) {
    Names.sqlName("group role", groupRole);
    return List.of(
        resource("setup/revoke-dynamic-role.sql")
            .replace("{{group}}", Names.quoteLiteral(groupRole))
            .strip());
  }

  static String resource(String path) {
    try (InputStream in = DynamicRoleStatements.class.getClassLoader().getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + path);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
