package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.api.v1.ErrorReason;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The proto's {@code ErrorReason} enum is where clients in any language read what each {@code
 * ErrorInfo.reason} means; these tests keep it in step with {@link BrokerException.Reason}, the
 * reasons the broker actually sends, and with the status code each one goes out with.
 */
class ErrorReasonContractTest {

  private static final Path PROTO =
      Path.of("../api-proto/src/main/proto/credbroker/v1/credential_broker.proto");

  /**
   * {@code // UNAVAILABLE: ...} then, after more comment lines, {@code VAULT_UNAVAILABLE = 21;}.
   */
  private static final Pattern DOCUMENTED_VALUE =
      Pattern.compile("//\\s*([A-Z_]+):[^\\n]*\\n(?:\\s*//[^\\n]*\\n)*\\s*([A-Z_]+) = \\d+;");

  @Test
  void everyReasonTheBrokerSendsIsAProtoErrorReasonAndNoMore() {
    assertThat(
            Arrays.stream(ErrorReason.values())
                .filter(
                    value ->
                        value != ErrorReason.ERROR_REASON_UNSPECIFIED
                            && value != ErrorReason.UNRECOGNIZED)
                .map(Enum::name))
        .containsExactlyInAnyOrderElementsOf(
            Arrays.stream(Reason.values()).map(Enum::name).toList());
  }

  @Test
  void eachErrorReasonIsDocumentedWithTheStatusCodeTheBrokerSendsItWith() throws IOException {
    Map<String, String> documented = documentedCodes();

    assertThat(documented.keySet())
        .containsExactlyInAnyOrderElementsOf(
            Arrays.stream(Reason.values()).map(Enum::name).toList());
    for (Reason reason : Reason.values()) {
      String code =
          GrpcErrorMapper.toStatusException(new BrokerException(reason, "why"))
              .getStatus()
              .getCode()
              .name();
      assertThat(documented.get(reason.name())).as(reason.name()).isEqualTo(code);
    }
  }

  private static Map<String, String> documentedCodes() throws IOException {
    String proto = Files.readString(PROTO, StandardCharsets.UTF_8);
    String body = proto.substring(proto.indexOf("enum ErrorReason {"));
    body = body.substring(0, body.indexOf('}'));
    Map<String, String> codes = new LinkedHashMap<>();
    Matcher matcher = DOCUMENTED_VALUE.matcher(body);
    while (matcher.find()) {
      codes.put(matcher.group(2), matcher.group(1));
    }
    return codes;
  }
}
