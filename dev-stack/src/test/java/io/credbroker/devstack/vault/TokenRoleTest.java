package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.credbroker.devstack.http.Json;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TokenRoleTest {

  private static final Duration SYSTEM = Duration.ofHours(768);

  private static JsonNode json(String text) throws Exception {
    return Json.MAPPER.readTree(text);
  }

  @Test
  void createStartsFromVaultsDefaultsAndReadsBackInVaultsShape() throws Exception {
    TokenRole.Written w =
        TokenRole.write(null, "issuer", json("{\"allowed_policies\":\"B, a\"}"), SYSTEM);
    assertThat(w.warnings()).isEmpty();
    assertThat(w.role().view().toString())
        .isEqualTo(
            json("""
        {"allowed_entity_aliases":null,"allowed_policies":["a","b"],"allowed_policies_glob":[],
         "disallowed_policies":[],"disallowed_policies_glob":[],"explicit_max_ttl":0,"name":"issuer",
         "orphan":false,"path_suffix":"","period":0,"renewable":true,"token_explicit_max_ttl":0,
         "token_no_default_policy":false,"token_period":0,"token_type":"default-service"}""")
                .toString());
  }

  @Test
  void updateKeepsWhatTheBodyDoesNotMention() throws Exception {
    TokenRole created =
        TokenRole.write(
                null,
                "r",
                json(
                    "{\"orphan\":true,\"renewable\":false,\"allowed_policies\":[\"app\"],\"token_explicit_max_ttl\":\"1h\"}"),
                SYSTEM)
            .role();
    TokenRole updated =
        TokenRole.write(created, "r", json("{\"path_suffix\":\"rev2\"}"), SYSTEM).role();
    assertThat(updated.orphan()).isTrue();
    assertThat(updated.renewable()).isFalse();
    assertThat(updated.allowedPolicies()).containsExactly("app");
    assertThat(updated.tokenExplicitMaxTtl()).isEqualTo(Duration.ofHours(1));
    assertThat(updated.pathSuffix()).isEqualTo("rev2");
  }

  @Test
  void deprecatedFieldsFillTheTokenFieldsAndReadBackAsWritten() throws Exception {
    TokenRole legacy =
        TokenRole.write(null, "r", json("{\"explicit_max_ttl\":600,\"period\":\"5m\"}"), SYSTEM)
            .role();
    assertThat(legacy.tokenExplicitMaxTtl()).isEqualTo(Duration.ofMinutes(10));
    assertThat(legacy.view().path("explicit_max_ttl").asLong()).isEqualTo(600);
    assertThat(legacy.tokenPeriod()).isEqualTo(Duration.ofMinutes(5));
    assertThat(legacy.view().path("period").asLong()).isEqualTo(300);

    TokenRole.Written both =
        TokenRole.write(
            legacy,
            "r",
            json("{\"token_explicit_max_ttl\":\"20m\",\"explicit_max_ttl\":\"1m\"}"),
            SYSTEM);
    assertThat(both.role().tokenExplicitMaxTtl()).isEqualTo(Duration.ofMinutes(20));
    assertThat(both.role().explicitMaxTtl()).isZero();
    assertThat(both.warnings())
        .containsExactly(
            "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl'"
                + " value supplied, ignoring the deprecated value");
  }

  @Test
  void explicitMaxBeyondTheMountMaxIsWrittenWithVaultsWarning() throws Exception {
    TokenRole.Written w =
        TokenRole.write(null, "r", json("{\"token_explicit_max_ttl\":\"800h\"}"), SYSTEM);
    assertThat(w.warnings())
        .containsExactly(
            "Given explicit max TTL of 2880000 is greater than system/mount"
                + " allowed value of 2764800 seconds; until this is fixed attempting to create tokens against this role"
                + " will result in an error");
  }

  @Test
  void invalidValuesAreRefusedWithVaultsTexts() {
    // Vault's pattern needs three word characters somewhere: even "v2" is refused.
    assertThatThrownBy(() -> TokenRole.write(null, "r", json("{\"path_suffix\":\"v2\"}"), SYSTEM))
        .hasMessageContaining(
            "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w");
    assertThatThrownBy(() -> TokenRole.write(null, "r", json("{\"path_suffix\":\"a..b\"}"), SYSTEM))
        .hasMessageContaining(
            "error registering path suffix: path cannot contain parent references");
    assertThatThrownBy(() -> TokenRole.write(null, "r", json("{\"token_type\":\"weird\"}"), SYSTEM))
        .hasMessageContaining("invalid 'token_type' value \"weird\"");
  }

  @Test
  void whatTheStandInDoesNotImplementIsRefusedNotIgnored() {
    assertThatThrownBy(() -> TokenRole.write(null, "r", json("{\"token_type\":\"batch\"}"), SYSTEM))
        .hasMessageContaining("does not issue batch tokens");
    assertThatThrownBy(() -> TokenRole.write(null, "r", json("{\"token_num_uses\":3}"), SYSTEM))
        .hasMessageContaining("does not limit token uses");
    assertThatThrownBy(
            () ->
                TokenRole.write(
                    null, "r", json("{\"token_bound_cidrs\":[\"10.0.0.0/8\"]}"), SYSTEM))
        .hasMessageContaining("does not bind tokens to CIDRs");
  }

  @Test
  void storedViewRoundTrips() throws Exception {
    TokenRole r =
        TokenRole.write(
                null,
                "r",
                json(
                    """
        {"allowed_policies":["app"],"disallowed_policies":["x"],"allowed_entity_aliases":["E1"],"orphan":true,
         "renewable":false,"path_suffix":"rev1","token_period":"1h","token_explicit_max_ttl":"2h",
         "token_no_default_policy":true,"token_type":"service"}"""),
                SYSTEM)
            .role();
    assertThat(TokenRole.fromView(r.view())).isEqualTo(r);
    assertThat(r.allowedEntityAliases()).containsExactly("e1");
  }
}
