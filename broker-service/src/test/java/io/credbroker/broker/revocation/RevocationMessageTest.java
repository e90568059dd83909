package io.credbroker.broker.revocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.UUID;
import org.junit.jupiter.api.Test;

class RevocationMessageTest {

  @Test
  void unblockSurvivesTheRoundTripAndIsNotABlock() {
    RevocationMessage message =
        new RevocationMessage.PodUnblocked("7f3e0c1a-2b4d-4e5f-8a9b-0c1d2e3f4a5b");

    assertThat(message.encode()).isEqualTo("v1 unblock 7f3e0c1a-2b4d-4e5f-8a9b-0c1d2e3f4a5b");
    assertThat(RevocationMessage.decode(message.encode())).isEqualTo(message);
    assertThat(RevocationMessage.decode("v1 unblock a b")).isNull();
    assertThatThrownBy(() -> new RevocationMessage.PodUnblocked("a b"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void blockSurvivesTheRoundTrip() {
    RevocationMessage message =
        new RevocationMessage.PodBlocked("7f3e0c1a-2b4d-4e5f-8a9b-0c1d2e3f4a5b");

    assertThat(RevocationMessage.decode(message.encode())).isEqualTo(message);
  }

  @Test
  void revocationSurvivesTheRoundTrip() {
    RevocationMessage message =
        new RevocationMessage.CredentialRevoked(UUID.randomUUID(), "POD_REVOKED");

    assertThat(message.encode()).startsWith("v1 revoked ");
    assertThat(RevocationMessage.decode(message.encode())).isEqualTo(message);
  }

  @Test
  void payloadOfAnotherVersionOrShapeIsSkipped() {
    assertThat(RevocationMessage.decode("v2 block abc")).isNull();
    assertThat(RevocationMessage.decode("v1 block")).isNull();
    assertThat(RevocationMessage.decode("v1 block a b")).isNull();
    assertThat(RevocationMessage.decode("v1 revoked not-a-uuid POD_REVOKED")).isNull();
    assertThat(RevocationMessage.decode("v1 revoked " + UUID.randomUUID() + " lower_case"))
        .isNull();
    assertThat(RevocationMessage.decode("v1 rotate " + UUID.randomUUID())).isNull();
    assertThat(RevocationMessage.decode("")).isNull();
  }

  @Test
  void podUidThatWouldSplitThePayloadIsRefused() {
    assertThatThrownBy(() -> new RevocationMessage.PodBlocked("a b"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new RevocationMessage.PodBlocked(""))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
