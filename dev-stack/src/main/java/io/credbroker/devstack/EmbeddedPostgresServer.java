package io.credbroker.devstack;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL 14 server from embedded binaries that behaves like a real one on the network:
 * password (SCRAM) authentication over TCP, a superuser with a random password, data under the work
 * directory.
 *
 * <p>Lifecycle: {@link #start} runs initdb when the data directory is new (the superuser password
 * is set by initdb itself, so there is never a moment when TCP logins are trusted) and keeps the
 * password in {@code postgres-password} next to the data so a later start on the same directory
 * reuses it. {@link #close} stops the server. Not thread-safe; owned by {@link DevStack}.
 */
final class EmbeddedPostgresServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgresServer.class);
  static final String SUPERUSER = "postgres";

  private final EmbeddedPostgres postgres;
  private final PostgresInfo info;

  private EmbeddedPostgresServer(EmbeddedPostgres postgres, PostgresInfo info) {
    this.postgres = postgres;
    this.info = info;
  }

  /**
   * Starts the server.
   *
   * @param dir holds {@code data/} and the password file; created if missing
   * @param port 0 picks a free port
   */
  static EmbeddedPostgresServer start(Path dir, int port) {
    try {
      Files.createDirectories(dir);
      Path dataDir = dir.resolve("data");
      Path passwordFile = dir.resolve("postgres-password");
      boolean fresh = !Files.exists(dataDir.resolve("postgresql.conf"));
      String password;
      if (!fresh && Files.exists(passwordFile)) {
        password = Files.readString(passwordFile, StandardCharsets.UTF_8).trim();
      } else {
        password = randomPassword();
        Files.writeString(passwordFile, password + "\n", StandardCharsets.UTF_8);
      }
      // initdb and postgres run as "nobody" when we are root: they must reach and read these.
      openForServerUser(dir);
      EmbeddedPostgres.Builder builder =
          EmbeddedPostgres.builder()
              .setDataDirectory(dataDir)
              .setCleanDataDirectory(false)
              .setPGStartupWait(Duration.ofSeconds(60))
              // zonky's readiness probe logs in over TCP, so it needs the password too.
              .setConnectConfig("password", password)
              .setServerConfig("listen_addresses", "127.0.0.1")
              .setServerConfig("password_encryption", "scram-sha-256")
              .setServerConfig("max_connections", "400")
              .setServerConfig("shared_buffers", "128MB")
              // The stand-ins and tests create and drop thousands of roles; keep fsync cheap.
              .setServerConfig("fsync", "off")
              .setServerConfig("synchronous_commit", "off")
              .setServerConfig("full_page_writes", "off")
              .setDataDirectoryCustomizer(data -> writeHba(data.toPath()));
      if (fresh) {
        Path pwfile = dir.resolve("initdb-pwfile");
        Files.writeString(pwfile, password + "\n", StandardCharsets.UTF_8);
        openForServerUser(pwfile);
        builder.setLocaleConfig("pwfile", pwfile.toString());
        try {
          EmbeddedPostgres pg = builder.setPort(port == 0 ? FreePorts.next() : port).start();
          return started(pg, password);
        } finally {
          Files.deleteIfExists(pwfile);
        }
      }
      return started(builder.setPort(port == 0 ? FreePorts.next() : port).start(), password);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start embedded PostgreSQL in " + dir, e);
    }
  }

  private static EmbeddedPostgresServer started(EmbeddedPostgres pg, String password) {
    PostgresInfo info = new PostgresInfo("127.0.0.1", pg.getPort(), SUPERUSER, password);
    log.info("PostgreSQL listening on 127.0.0.1:{}", pg.getPort());
    return new EmbeddedPostgresServer(pg, info);
  }

  PostgresInfo info() {
    return info;
  }

  @Override
  public void close() {
    try {
      postgres.close();
    } catch (IOException e) {
      log.warn("stopping PostgreSQL failed: {}", e.toString());
    }
  }

  /**
   * Password logins over TCP for everybody, trust only on the Unix socket (used by nothing of ours,
   * handy for an operator with psql on the machine).
   */
  private static void writeHba(Path dataDir) {
    String hba =
        """
        # Written by the dev stack on every start.
        local all all                trust
        host  all all 127.0.0.1/32   scram-sha-256
        host  all all ::1/128        scram-sha-256
        """;
    try {
      Files.writeString(dataDir.resolve("pg_hba.conf"), hba, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write pg_hba.conf", e);
    }
  }

  /** Lets other users traverse every ancestor and read the file or directory itself. */
  private static void openForServerUser(Path path) throws IOException {
    if (!isRoot()) {
      return;
    }
    Path p = path.toAbsolutePath();
    if (Files.isRegularFile(p)) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
      p = p.getParent();
    } else {
      // The server user writes the data directory (initdb creates it beneath this one).
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxrwxrwx"));
      p = p.getParent();
    }
    for (; p != null; p = p.getParent()) {
      var perms = Files.getPosixFilePermissions(p);
      if (!perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
        perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);
        Files.setPosixFilePermissions(p, perms);
      }
    }
  }

  private static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  private static String randomPassword() {
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    SecureRandom random = new SecureRandom();
    StringBuilder sb = new StringBuilder(24);
    for (int i = 0; i < 24; i++) {
      sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return sb.toString();
  }
}
