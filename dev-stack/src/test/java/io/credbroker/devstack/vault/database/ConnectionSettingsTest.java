package io.credbroker.devstack.vault.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ConnectionSettingsTest {

  private static ObjectNode details(String url) {
    ObjectNode d = JsonNodeFactory.instance.objectNode();
    d.put("connection_url", url);
    d.put("username", "vault admin");
    d.put("password", "p@ss/w?rd");
    return d;
  }

  @Test
  void credentialsAreSubstitutedPathEscaped() throws Exception {
    ConnectionSettings s =
        ConnectionSettings.from(details("postgresql://{{username}}:{{password}}@h:5432/db1"));

    assertThat(s.connectionUrl()).isEqualTo("postgresql://vault%20admin:p@ss%2Fw%3Frd@h:5432/db1");
    assertThat(s.target().user()).isEqualTo("vault admin");
    assertThat(s.target().password()).isEqualTo("p@ss/w?rd");
  }

  @Test
  void poolDefaultsMatchVault() throws Exception {
    ConnectionSettings s =
        ConnectionSettings.from(details("postgresql://{{username}}:{{password}}@h/db"));

    assertThat(s.maxOpenConnections()).isEqualTo(4);
    assertThat(s.maxIdleConnections()).isEqualTo(4);
    assertThat(s.maxConnectionLifetime()).isEqualTo(Duration.ZERO);
    assertThat(s.scramSha256()).isFalse();
  }

  @Test
  void weaklyTypedNumbersAreAccepted() throws Exception {
    ObjectNode d = details("postgresql://{{username}}:{{password}}@h/db");
    d.put("max_open_connections", "7");
    d.put("max_connection_lifetime", "1m");
    d.put("password_authentication", "scram-sha-256");

    ConnectionSettings s = ConnectionSettings.from(d);

    assertThat(s.maxOpenConnections()).isEqualTo(7);
    assertThat(s.maxConnectionLifetime()).isEqualTo(Duration.ofMinutes(1));
    assertThat(s.scramSha256()).isTrue();
  }

  @Test
  void emptyUrlIsRefused() {
    assertThatThrownBy(() -> ConnectionSettings.from(details("")))
        .hasMessage("connection_url cannot be empty");
  }

  @Test
  void templateVariablesInCredentialsAreRefused() {
    ObjectNode d = details("postgresql://{{username}}@h/db");
    d.put("username", "{{password}}");

    assertThatThrownBy(() -> ConnectionSettings.from(d))
        .hasMessage("username and/or password cannot contain the template variables");
  }

  @Test
  void unknownPasswordAuthenticationIsRefused() {
    ObjectNode d = details("postgresql://{{username}}@h/db");
    d.put("password_authentication", "md5");

    assertThatThrownBy(() -> ConnectionSettings.from(d))
        .hasMessage("'md5' is not a valid password authentication type");
  }

  @Test
  void badUsernameTemplateIsRefusedAtConfigTime() {
    ObjectNode d = details("postgresql://{{username}}@h/db");
    d.put("username_template", "{{ .Nope }}");

    assertThatThrownBy(() -> ConnectionSettings.from(d))
        .hasMessageStartingWith("invalid username template: unable to apply template:");
  }

  @Test
  void sanitizeReplacesThePasswordInBothForms() throws Exception {
    ConnectionSettings s =
        ConnectionSettings.from(details("postgresql://{{username}}:{{password}}@h/db"));

    assertThat(s.sanitize("bad p@ss/w?rd and p@ss%2Fw%3Frd"))
        .isEqualTo("bad [password] and [password]");
    assertThat(s.toString()).doesNotContain("p@ss");
  }
}
