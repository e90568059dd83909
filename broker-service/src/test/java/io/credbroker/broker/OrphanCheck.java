package io.credbroker.broker;

import static org.awaitility.Awaitility.await;

import io.credbroker.devstack.PostgresInfo;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The "zero orphans" invariant, for any scenario once it has settled: every dynamic role in a target
 * database (a role with {@code VALID UNTIL}, which is how Vault's creation statements make them) is
 * backed by a live credential in the broker's state store, or it is gone. A role the broker never
 * recorded is an orphan too.
 *
 * <p>Reads both databases over JDBC as the admin user; stateless.
 */
public final class OrphanCheck {

  private OrphanCheck() {}

  /**
   * The dynamic roles that exist in {@code targetDatabase} without a live credential, with what the
   * state store says about them ({@code untracked} when it knows nothing).
   */
  public static Map<String, String> orphans(
      PostgresInfo postgres, String targetDatabase, String stateDatabase) throws SQLException {
    Set<String> roles = dynamicRoles(postgres, targetDatabase);
    Map<String, String> orphans = new TreeMap<>();
    try (Connection state = postgres.connect(stateDatabase);
        PreparedStatement query =
            state.prepareStatement(
                "SELECT string_agg(state || '/' || COALESCE(end_reason, '-'), ',')"
                    + " FILTER (WHERE state <> 'ACTIVE'),"
                    + " count(*) FILTER (WHERE state = 'ACTIVE')"
                    + " FROM credential WHERE username = ?")) {
      for (String role : roles) {
        query.setString(1, role);
        try (ResultSet rs = query.executeQuery()) {
          rs.next();
          String ended = rs.getString(1);
          long live = rs.getLong(2);
          if (live == 0) {
            orphans.put(role, ended == null ? "untracked" : ended);
          }
        }
      }
    }
    return orphans;
  }

  /** The dynamic roles (those with {@code VALID UNTIL}) in {@code targetDatabase} now, by name. */
  public static Set<String> dynamicRoles(PostgresInfo postgres, String targetDatabase)
      throws SQLException {
    Set<String> roles = new LinkedHashSet<>();
    try (Connection target = postgres.connect(targetDatabase);
        PreparedStatement query =
            target.prepareStatement(
                "SELECT rolname FROM pg_roles WHERE rolvaliduntil IS NOT NULL ORDER BY 1");
        ResultSet rs = query.executeQuery()) {
      while (rs.next()) {
        roles.add(rs.getString(1));
      }
    }
    return roles;
  }

  /** Waits (up to {@code settle}) until there are no orphans; fails with the orphans otherwise. */
  public static void assertNoOrphans(
      PostgresInfo postgres, String targetDatabase, String stateDatabase, Duration settle) {
    await("no dynamic role without a live credential")
        .atMost(settle)
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () -> {
              Map<String, String> orphans = orphans(postgres, targetDatabase, stateDatabase);
              if (!orphans.isEmpty()) {
                throw new AssertionError("orphaned roles: " + orphans);
              }
            });
  }
}
