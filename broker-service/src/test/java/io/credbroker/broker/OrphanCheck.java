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
import org.jspecify.annotations.Nullable;

/**
 * The "zero orphans" invariant, for any scenario once it has settled: every dynamic role in a
 * target database (a role with {@code VALID UNTIL}, which is how Vault's creation statements make
 * them) is backed by a live credential in the broker's state store, or it is gone. A role the
 * broker never recorded is an orphan too. And its reverse: every live credential's role exists.
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

  /**
   * The reverse invariant: credentials the state store holds as live ({@code ACTIVE}, with more
   * than {@link #EXPIRY_SLACK} left before their recorded expiry) whose PostgreSQL role is gone, by
   * credential ID with user name and owner replica. Such a role was dropped behind the broker's
   * back (by Vault, when the token that created its lease died): the pod holding it can no longer
   * log in although the broker keeps it as live.
   *
   * <p>Race-free without waiting: the broker ends a credential in its state store before it asks
   * Vault to revoke the lease, and records a credential only after Vault created its role; so a
   * role found missing whose credential is still live when read again afterwards was dropped while
   * the credential was live. Roles are cluster-wide in PostgreSQL; {@code targetDatabase} is only
   * where the check connects.
   */
  public static Map<String, String> liveCredentialsWithoutRole(
      PostgresInfo postgres, String targetDatabase, String stateDatabase) throws SQLException {
    Map<String, String> candidates = liveCredentials(postgres, stateDatabase, null);
    Set<String> missing = new LinkedHashSet<>();
    try (Connection target = postgres.connect(targetDatabase);
        PreparedStatement query =
            target.prepareStatement("SELECT 1 FROM pg_roles WHERE rolname = ?")) {
      for (Map.Entry<String, String> credential : candidates.entrySet()) {
        query.setString(1, credential.getValue());
        try (ResultSet rs = query.executeQuery()) {
          if (!rs.next()) {
            missing.add(credential.getKey());
          }
        }
      }
    }
    return missing.isEmpty() ? Map.of() : liveCredentials(postgres, stateDatabase, missing);
  }

  /** How close to its recorded expiry a credential may lose its role (Vault expires it on time). */
  static final Duration EXPIRY_SLACK = Duration.ofSeconds(2);

  /**
   * Live credentials (among {@code ids}, or all when null) by ID: user name, and with {@code ids}
   * the owner replica too.
   */
  private static Map<String, String> liveCredentials(
      PostgresInfo postgres, String stateDatabase, @Nullable Set<String> ids) throws SQLException {
    Map<String, String> live = new TreeMap<>();
    try (Connection state = postgres.connect(stateDatabase);
        PreparedStatement query =
            state.prepareStatement(
                "SELECT id::text, username, COALESCE(owner_replica, '-') FROM credential"
                    + " WHERE state = 'ACTIVE' AND expire_time > now() + make_interval(secs => ?)"
                    + (ids == null ? "" : " AND id::text = ANY (?)"))) {
      query.setLong(1, EXPIRY_SLACK.toSeconds());
      if (ids != null) {
        query.setArray(2, state.createArrayOf("text", ids.toArray()));
      }
      try (ResultSet rs = query.executeQuery()) {
        while (rs.next()) {
          live.put(
              rs.getString(1),
              ids == null ? rs.getString(2) : rs.getString(2) + " (owner " + rs.getString(3) + ")");
        }
      }
    }
    return live;
  }

  /** Fails with the live credentials whose role is gone, if there are any now. */
  public static void assertNoLiveCredentialWithoutRole(
      PostgresInfo postgres, String targetDatabase, String stateDatabase) throws SQLException {
    Map<String, String> missing =
        liveCredentialsWithoutRole(postgres, targetDatabase, stateDatabase);
    if (!missing.isEmpty()) {
      throw new AssertionError("live credentials whose PostgreSQL role is gone: " + missing);
    }
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
