package io.credbroker.broker;

import io.credbroker.devstack.PostgresInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The invariants the fault suite checks after every scenario, each as a {@link Check} that says
 * whether it held and, when not, what broke it (never the secret itself):
 *
 * <ul>
 *   <li>no orphan role (a dynamic role without a live credential) and no ghost credential (a live
 *       credential whose role is gone), once the graces have passed;
 *   <li>no application ever logged in as a role issued to another pod, and no user name belongs to
 *       two pods in the state store;
 *   <li>no application query failed (no fault here makes the target database unreachable for the
 *       applications, so every failure is the broker's);
 *   <li>no secret in any log: every password the applications were given, every JWT the test knows,
 *       and anything shaped like a Vault token or a JWT, in every replica's log and this JVM's;
 *   <li>every application runs queries again after the fault.
 * </ul>
 *
 * <p>Stateless; reads the databases over JDBC as the admin user and the logs from disk.
 */
final class FaultInvariants {

  /** A Vault service token as the stand-in (and Vault since 1.10) shapes it. */
  private static final Pattern VAULT_TOKEN = Pattern.compile("hvs\\.[A-Za-z0-9]{24}");

  /** A compact JWS: a JSON header and payload (both start {@code eyJ}) and a signature. */
  private static final Pattern JWT =
      Pattern.compile("eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]*");

  private FaultInvariants() {}

  /** One invariant's outcome after one scenario. */
  record Check(String invariant, boolean held, String detail) {
    static Check held(String invariant, String detail) {
      return new Check(invariant, true, detail);
    }

    static Check broken(String invariant, String detail) {
      return new Check(invariant, false, detail);
    }
  }

  /** Waits up to {@code settle} for no orphan and no ghost; reports what remained. */
  static Check noOrphansNoGhosts(PostgresInfo postgres, Duration settle)
      throws InterruptedException {
    String name = "0 orphan roles, 0 ghost credentials";
    long deadline = System.nanoTime() + settle.toNanos();
    String last = "";
    while (true) {
      try {
        Map<String, String> orphans = OrphanCheck.orphans(postgres, FaultStand.ROLE, "credbroker");
        Map<String, String> ghosts =
            OrphanCheck.liveCredentialsWithoutRole(postgres, FaultStand.ROLE, "credbroker");
        if (orphans.isEmpty() && ghosts.isEmpty()) {
          return Check.held(name, "");
        }
        last = "orphans " + orphans + ", ghosts " + ghosts;
      } catch (SQLException e) {
        last = "cannot read the databases: " + e.getMessage();
      }
      if (System.nanoTime() > deadline) {
        return Check.broken(name, last);
      }
      Thread.sleep(250);
    }
  }

  /**
   * Every user an application logged in as was issued to that application's pod, and the state
   * store gives no user name to two pods.
   */
  static Check rightPod(FaultStand stand) throws SQLException {
    String name = "0 credentials of another pod";
    List<String> wrong = new ArrayList<>();
    try (Connection state = stand.stateDatabase();
        PreparedStatement owner =
            state.prepareStatement("SELECT DISTINCT pod_name FROM credential WHERE username = ?");
        PreparedStatement shared =
            state.prepareStatement(
                "SELECT username FROM credential GROUP BY username"
                    + " HAVING count(DISTINCT COALESCE(pod_name, '')) > 1")) {
      for (FaultStand.Application application : stand.applications) {
        for (String user : application.users) {
          owner.setString(1, user);
          List<String> pods = new ArrayList<>();
          try (ResultSet rs = owner.executeQuery()) {
            while (rs.next()) {
              pods.add(rs.getString(1));
            }
          }
          if (!pods.equals(List.of(application.pod))) {
            wrong.add(application.pod + " logged in as " + user + " of " + pods);
          }
        }
      }
      try (ResultSet rs = shared.executeQuery()) {
        while (rs.next()) {
          wrong.add("user " + rs.getString(1) + " belongs to several pods");
        }
      }
    }
    return wrong.isEmpty() ? Check.held(name, "") : Check.broken(name, String.join("; ", wrong));
  }

  /** No application query failed since {@code failuresBefore} (per application, by index). */
  static Check noFailedQueries(FaultStand stand, List<Integer> failuresBefore) {
    String name = "0 failed queries";
    List<String> failed = new ArrayList<>();
    int queries = 0;
    for (int i = 0; i < stand.applications.size(); i++) {
      FaultStand.Application application = stand.applications.get(i);
      queries += application.queries.get();
      List<String> all = application.failures;
      for (String failure : all.subList(Math.min(failuresBefore.get(i), all.size()), all.size())) {
        failed.add(application.pod + ": " + failure);
      }
    }
    if (failed.isEmpty()) {
      return Check.held(name, queries + " queries so far");
    }
    return Check.broken(
        name, failed.size() + " failed, first: " + failed.subList(0, Math.min(3, failed.size())));
  }

  /**
   * Every live stream credential has at least half its TTL left again within {@code within}: the
   * broker renewed what the fault kept it from renewing, so the next scenario starts from leases
   * with their full margin rather than adding its outage to this one's.
   */
  static Check leasesRenewed(FaultStand stand, Duration within) throws InterruptedException {
    String name = "leases renewed after the fault";
    long deadline = System.nanoTime() + within.toNanos();
    String late = "";
    while (System.nanoTime() < deadline) {
      try {
        long count =
            stand.stateCount(
                "SELECT count(*) FROM credential WHERE state = 'ACTIVE' AND kind = 'STREAM'"
                    + " AND expire_time < now() + make_interval(secs => ?)"
                    + " AND (max_expire_time IS NULL OR max_expire_time > now() + make_interval(secs => ?))",
                FaultStand.CREDENTIAL_TTL.toSeconds() / 2,
                FaultStand.CREDENTIAL_TTL.toSeconds());
        if (count == 0) {
          return Check.held(name, "");
        }
        late = count + " live credentials with less than half their TTL left";
      } catch (SQLException e) {
        late = "cannot read the state database: " + e.getMessage();
      }
      Thread.sleep(500);
    }
    return Check.broken(name, late + " after " + within);
  }

  /** Every application runs queries again within {@code within}. */
  static Check applicationsRecovered(FaultStand stand, Duration within)
      throws InterruptedException {
    String name = "applications run queries";
    List<Integer> before = stand.applications.stream().map(a -> a.queries.get()).toList();
    long deadline = System.nanoTime() + within.toNanos();
    List<String> stuck = new ArrayList<>();
    while (System.nanoTime() < deadline) {
      stuck.clear();
      for (int i = 0; i < stand.applications.size(); i++) {
        if (stand.applications.get(i).queries.get() <= before.get(i) + 3) {
          stuck.add(stand.applications.get(i).pod);
        }
      }
      if (stuck.isEmpty()) {
        return Check.held(name, "");
      }
      Thread.sleep(200);
    }
    return Check.broken(name, "no queries within " + within + ": " + stuck);
  }

  /**
   * No known secret, nothing shaped like a Vault token or a JWT, in any log from {@code offsets} on
   * (by log name; a log not named is read from its start); moves the offsets to the logs' ends.
   */
  static Check noSecretsInLogs(FaultStand stand, Map<String, Long> offsets) throws IOException {
    String name = "0 secrets in logs";
    Map<String, String> secrets = stand.knownSecrets();
    List<String> found = new ArrayList<>();
    long bytes = 0;
    int logs = 0;
    for (Path file : stand.logFiles()) {
      String log = file.getFileName().toString();
      long from = offsets.getOrDefault(log, 0L);
      // Only what was written since the last scan is read (the logs at DEBUG grow to hundreds of
      // MiB over a run). Latin-1 maps every byte to one char: fast, and a secret (ASCII) is found
      // whatever else the file holds.
      String text = readFrom(file, from);
      offsets.put(log, from + text.length());
      bytes += text.length();
      logs++;
      for (Finding finding : secretsIn(text, secrets)) {
        found.add(finding.what() + " in " + log + " line " + lineOf(file, from + finding.at()));
      }
    }
    List<String> testLines = stand.testLogs.lines();
    String testLog = "test JVM (dev-stack, clients)";
    int fromLine = (int) Math.min(offsets.getOrDefault(testLog, 0L), testLines.size());
    offsets.put(testLog, (long) testLines.size());
    String text = String.join("\n", testLines.subList(fromLine, testLines.size()));
    bytes += text.length();
    logs++;
    for (Finding finding : secretsIn(text, secrets)) {
      found.add(finding.what() + " in " + testLog);
    }
    String scanned = secrets.size() + " secrets in " + logs + " logs, " + bytes / 1024 + " KiB";
    if (found.isEmpty()) {
      return Check.held(name, scanned);
    }
    return Check.broken(
        name,
        scanned
            + ": "
            + found.size()
            + " found, e.g. "
            + found.subList(0, Math.min(5, found.size())));
  }

  /** A secret, or the shape of one, found at index {@code at} of a text. */
  private record Finding(String what, int at) {}

  /** What {@code text} holds of {@code secrets} (by what each is) and of the shapes of one. */
  private static List<Finding> secretsIn(String text, Map<String, String> secrets) {
    List<Finding> found = new ArrayList<>();
    for (Map.Entry<String, String> secret : secrets.entrySet()) {
      int at = text.indexOf(secret.getKey());
      if (at >= 0) {
        found.add(new Finding(secret.getValue(), at));
      }
    }
    for (Pattern shape : List.of(VAULT_TOKEN, JWT)) {
      Matcher m = shape.matcher(text);
      if (m.find()) {
        found.add(new Finding(shape == JWT ? "a JWT" : "a Vault token", m.start()));
      }
    }
    return found;
  }

  /** {@code file} from byte {@code from} to its current end, one char per byte. */
  private static String readFrom(Path file, long from) throws IOException {
    try (var channel = java.nio.channels.FileChannel.open(file)) {
      long size = channel.size();
      if (size <= from) {
        return "";
      }
      java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocate(Math.toIntExact(size - from));
      while (buffer.hasRemaining() && channel.read(buffer, from + buffer.position()) >= 0) {
        // Reads until the buffer is full or the file ends.
      }
      return new String(buffer.array(), 0, buffer.position(), StandardCharsets.ISO_8859_1);
    }
  }

  /** The line of {@code file} that holds byte {@code offset} (only read for a secret found). */
  private static int lineOf(Path file, long offset) throws IOException {
    String text = readFrom(file, 0);
    int line = 1;
    for (int i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
      line++;
    }
    return line;
  }
}
