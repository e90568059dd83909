package io.credbroker.helm;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Values the chart must refuse, each with a message that names what is wrong. */
class ValuesSchemaTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
      invalid-unknown-key.yaml     | Additional property replicas is not allowed
      invalid-types.yaml           | replicaCount
      invalid-binding.yaml         | vaultRole
      invalid-binding.yaml         | sslmode
      invalid-duration.yaml        | cacheMaxTtl
      invalid-vault-address.yaml   | address
      plaintext-vault-address.yaml | address
      invalid-global.yaml          | imageRegistry
      invalid-image.yaml           | digest
      """)
  void schemaRejectsInvalidValues(String valuesFile, String expectedInMessage) {
    assertThatThrownBy(() -> Chart.template(valuesFile, Map.of()).call())
        .hasMessageContaining("schema")
        .hasMessageContaining(expectedInMessage);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
      missing-vault-address.yaml     | vault.address is required
      missing-database-password.yaml | database.password is required unless database.existingSecret is set
      """)
  void renderingWithoutARequiredValueFailsWithItsName(String valuesFile, String expectedInMessage) {
    assertThatThrownBy(() -> Chart.template(valuesFile, Map.of()).call())
        .hasMessageContaining(expectedInMessage);
  }
}
