package io.credbroker.devstack.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import java.io.ByteArrayOutputStream;
import org.junit.jupiter.api.Test;

/** Bodies built field by field as client-go's generated marshallers write them. */
class ProtobufBodiesTest {

  @Test
  void tokenRequestWithBoundPodDecodesToTheJsonShape() throws Exception {
    UnknownFieldSet ref = message(text(1, "Pod"), text(2, "v1"), text(3, "web"));
    UnknownFieldSet spec =
        UnknownFieldSet.newBuilder()
            .mergeFrom(message(text(1, "credbroker"), text(1, "vault"), nested(3, ref)))
            .mergeField(4, UnknownFieldSet.Field.newBuilder().addVarint(900).build())
            .build();
    byte[] body =
        envelope(
            "authentication.k8s.io/v1",
            "TokenRequest",
            message(nested(1, message(text(1, "app"))), nested(2, spec)));

    ObjectNode json = ProtobufBodies.toJson(body);

    assertThat(json.get("kind").asText()).isEqualTo("TokenRequest");
    assertThat(json.at("/metadata/name").asText()).isEqualTo("app");
    assertThat(json.at("/spec/audiences").toString()).isEqualTo("[\"credbroker\",\"vault\"]");
    assertThat(json.at("/spec/expirationSeconds").asLong()).isEqualTo(900);
    assertThat(json.at("/spec/boundObjectRef/kind").asText()).isEqualTo("Pod");
    assertThat(json.at("/spec/boundObjectRef/name").asText()).isEqualTo("web");
  }

  @Test
  void selfSubjectAccessReviewKeepsResourceAttributes() throws Exception {
    UnknownFieldSet attributes =
        message(
            text(1, "public"),
            text(2, "create"),
            text(3, "authentication.k8s.io"),
            text(5, "tokenreviews"));
    byte[] body =
        envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            message(nested(2, message(nested(1, attributes)))));

    ObjectNode json = ProtobufBodies.toJson(body);

    assertThat(json.at("/spec/resourceAttributes/verb").asText()).isEqualTo("create");
    assertThat(json.at("/spec/resourceAttributes/group").asText())
        .isEqualTo("authentication.k8s.io");
    assertThat(json.at("/spec/resourceAttributes/resource").asText()).isEqualTo("tokenreviews");
    assertThat(json.at("/spec/resourceAttributes/namespace").asText()).isEqualTo("public");
  }

  @Test
  void podsAreOnlyAcceptedAsJson() throws Exception {
    byte[] body = envelope("v1", "Pod", message(nested(1, message(text(1, "web")))));

    assertThatThrownBy(() -> ProtobufBodies.toJson(body))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(415));
  }

  @Test
  void bodyWithoutTheK8sMagicIsABadRequest() {
    assertThatThrownBy(() -> ProtobufBodies.toJson(new byte[] {1, 2, 3, 4, 5}))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(400));
  }

  private static byte[] envelope(String apiVersion, String kind, UnknownFieldSet object)
      throws Exception {
    UnknownFieldSet unknown =
        message(
            nested(1, message(text(1, apiVersion), text(2, kind))),
            bytes(2, object.toByteString()));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(new byte[] {'k', '8', 's', 0});
    unknown.writeTo(out);
    return out.toByteArray();
  }

  private static UnknownFieldSet message(UnknownFieldSet... parts) {
    UnknownFieldSet.Builder builder = UnknownFieldSet.newBuilder();
    for (UnknownFieldSet part : parts) {
      builder.mergeFrom(part);
    }
    return builder.build();
  }

  private static UnknownFieldSet text(int number, String value) {
    return bytes(number, ByteString.copyFromUtf8(value));
  }

  private static UnknownFieldSet nested(int number, UnknownFieldSet value) {
    return bytes(number, value.toByteString());
  }

  private static UnknownFieldSet bytes(int number, ByteString value) {
    return UnknownFieldSet.newBuilder()
        .addField(number, UnknownFieldSet.Field.newBuilder().addLengthDelimited(value).build())
        .build();
  }
}
