package io.credbroker.client.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentSettingsTest {

  @TempDir Path dir;

  @Test
  void readsTheCommandLine() throws Exception {
    Path template =
        Files.writeString(dir.resolve("database.yml.tmpl"), "password: \"{{password|json}}\"\n");

    AgentSettings settings =
        AgentSettings.parse(
            "--target",
            "broker:9090",
            "--ca-file",
            "/etc/ca.crt",
            "--token-file",
            "/t/token",
            "--database-role",
            "db1",
            "--requested-ttl",
            "15m",
            "--file",
            "/s/db.env=env",
            "--file",
            "/s/database.yml=template:" + template,
            "--file-mode",
            "0640",
            "--notify-http",
            "http://127.0.0.1:8080/reload",
            "--notify-timeout",
            "3s");

    assertThat(settings.target()).isEqualTo("broker:9090");
    assertThat(settings.trustedCertificates()).isEqualTo(Path.of("/etc/ca.crt"));
    assertThat(settings.tokenFile()).isEqualTo(Path.of("/t/token"));
    assertThat(settings.requestedTtl()).isEqualTo(Duration.ofMinutes(15));
    assertThat(settings.files())
        .extracting(OutputFile::path)
        .containsExactly(Path.of("/s/db.env"), Path.of("/s/database.yml"));
    assertThat(
            settings
                .files()
                .get(1)
                .template()
                .render(CredentialTemplateTest.credential("u", "p\"w", "h", 1, "d")))
        .isEqualTo("password: \"p\\\"w\"\n");
    assertThat(settings.files())
        .allSatisfy(
            file ->
                assertThat(PosixFilePermissions.toString(file.permissions()))
                    .isEqualTo("rw-r-----"));
    assertThat(settings.notifier())
        .isEqualTo(
            new Notifier.Http(URI.create("http://127.0.0.1:8080/reload"), Duration.ofSeconds(3)));
    assertThat(settings.once()).isFalse();
  }

  @Test
  void filesAreOwnerOnlyByDefaultAndNoNotifierMeansNone() {
    AgentSettings settings =
        AgentSettings.parse("--target", "b:1", "--database-role", "db1", "--file", "/s/x=json");

    assertThat(PosixFilePermissions.toString(settings.files().get(0).permissions()))
        .isEqualTo("rw-------");
    assertThat(settings.notifier()).isEqualTo(Notifier.NONE);
  }

  @Test
  void signalGoesToAPidFileOrAProcessName() {
    AgentSettings byPid =
        AgentSettings.parse(
            "--target",
            "b:1",
            "--database-role",
            "db1",
            "--file",
            "/s/x=env",
            "--notify-signal",
            "SIGHUP",
            "--notify-pid-file",
            "/run/pgbouncer.pid");
    AgentSettings byName =
        AgentSettings.parse(
            "--target",
            "b:1",
            "--database-role",
            "db1",
            "--file",
            "/s/x=env",
            "--notify-signal",
            "usr1",
            "--notify-process",
            "pgbouncer");

    assertThat(byPid.notifier())
        .isEqualTo(Notifier.Signal.toPidFile("HUP", Path.of("/run/pgbouncer.pid")));
    assertThat(byName.notifier()).isEqualTo(Notifier.Signal.toProcess("USR1", "pgbouncer"));
  }

  @Test
  void mistakesAreNamed() {
    assertThatThrownBy(() -> AgentSettings.parse("--database-role", "db1", "--file", "/s/x=env"))
        .hasMessage("--target is required");
    assertThatThrownBy(() -> AgentSettings.parse("--target", "b:1", "--database-role", "db1"))
        .hasMessageContaining("no --file");
    assertThatThrownBy(
            () ->
                AgentSettings.parse(
                    "--target", "b:1", "--database-role", "db1", "--file", "/s/x=yaml"))
        .hasMessageContaining("unknown file format 'yaml'");
    assertThatThrownBy(
            () ->
                AgentSettings.parse("--target", "b:1", "--database-role", "db1", "--file", "/s/x"))
        .hasMessageContaining("PATH=FORMAT");
    assertThatThrownBy(
            () ->
                AgentSettings.parse(
                    "--target",
                    "b:1",
                    "--database-role",
                    "db1",
                    "--file",
                    "/s/x=env",
                    "--notify-signal",
                    "HUP"))
        .hasMessageContaining("exactly one of --notify-pid-file and --notify-process");
    assertThatThrownBy(
            () ->
                AgentSettings.parse(
                    "--target",
                    "b:1",
                    "--database-role",
                    "db1",
                    "--file",
                    "/s/x=env",
                    "--notify-http",
                    "http://a/",
                    "--notify-command",
                    "true"))
        .hasMessageContaining("choose one");
    assertThatThrownBy(
            () ->
                AgentSettings.parse(
                    "--target",
                    "b:1",
                    "--database-role",
                    "db1",
                    "--file",
                    "/s/x=env",
                    "--file-mode",
                    "644x"))
        .hasMessageContaining("octal");
    assertThatThrownBy(
            () ->
                AgentSettings.parse(
                    "--target",
                    "b:1",
                    "--database-role",
                    "db1",
                    "--file",
                    "/s/x=env",
                    "--requested-ttl",
                    "0s"))
        .hasMessageContaining("positive");
    assertThatThrownBy(() -> AgentSettings.parse("--target", "b:1", "--verbose"))
        .hasMessage("unknown option --verbose");
    assertThatThrownBy(() -> AgentSettings.parse("--target")).hasMessage("--target needs a value");
  }

  @Test
  void aModeOrOwnerTheFilesCannotWorkWithIsRefusedAtStartUp() {
    // libpq skips a password file its group or others may read and logs in without a password.
    assertThatThrownBy(() -> parse("--file", "/s/.pgpass=pgpass", "--file-mode", "0640"))
        .hasMessageContaining("libpq ignores a password file")
        .hasMessageContaining("/s/.pgpass");
    assertThat(parse("--file", "/s/.pgpass=pgpass", "--file-mode", "0400").files()).hasSize(1);
    assertThat(parse("--file", "/s/db.env=env", "--file-mode", "0640").files()).hasSize(1);
    assertThatThrownBy(() -> parse("--file", "/s/db.env=env", "--file-mode", "0666"))
        .hasMessageContaining("must not let others read or write");
    // Every other user of every container mounting the volume could read the password.
    assertThatThrownBy(() -> parse("--file", "/s/db.env=env", "--file-mode", "0644"))
        .hasMessageContaining("must not let others read or write");
    // A uid past what the system takes failed only at the first write, after start-up.
    assertThatThrownBy(() -> parse("--file", "/s/db.env=env", "--owner", "99999999999"))
        .hasMessageContaining("owner must be a numeric uid");
  }

  private static AgentSettings parse(String... more) {
    List<String> args = new ArrayList<>(List.of("--target", "b:1", "--database-role", "db1"));
    args.addAll(List.of(more));
    return AgentSettings.parse(args.toArray(String[]::new));
  }

  @Test
  void aTemplateWithATypoFailsAtStartUpNamingTheFile() throws Exception {
    Path template = Files.writeString(dir.resolve("bad.tmpl"), "{{ usrname }}");

    assertThatThrownBy(
            () ->
                AgentSettings.parse(
                    "--target",
                    "b:1",
                    "--database-role",
                    "db1",
                    "--file",
                    "/s/x=template:" + template))
        .hasMessageContaining(template.toString())
        .hasMessageContaining("unknown field 'usrname'");
  }
}
