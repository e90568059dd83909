package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import io.credbroker.devstack.http.Json;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Turns the protobuf request bodies that client-go sends when configured for protobuf (kubectl does
 * for {@code create token} and {@code auth can-i}) into the JSON the handlers read, for the few
 * kinds the stand-in accepts that way. The field numbers are those of {@code k8s.io/api}'s {@code
 * generated.proto}. Stateless.
 */
final class ProtobufBodies {

  static final String MEDIA_TYPE = "application/vnd.kubernetes.protobuf";
  private static final byte[] MAGIC = {'k', '8', 's', 0};

  private ProtobufBodies() {}

  /**
   * Decodes a {@code k8s\0}-prefixed {@code runtime.Unknown} envelope.
   *
   * @throws ApiException 400 for a body that is not such an envelope, 415 for a kind that is only
   *     accepted as JSON
   */
  static ObjectNode toJson(byte[] body) {
    if (body.length < MAGIC.length || !Arrays.equals(Arrays.copyOf(body, MAGIC.length), MAGIC)) {
      throw ApiException.badRequest(
          "provided object is not a protobuf message with the k8s envelope");
    }
    try {
      UnknownFieldSet unknown =
          UnknownFieldSet.parseFrom(Arrays.copyOfRange(body, MAGIC.length, body.length));
      UnknownFieldSet typeMeta = message(unknown, 1);
      String apiVersion = string(typeMeta, 1);
      String kind = string(typeMeta, 2);
      UnknownFieldSet raw = message(unknown, 2);
      ObjectNode json = Json.MAPPER.createObjectNode();
      json.put("apiVersion", apiVersion);
      json.put("kind", kind);
      json.set("metadata", objectMeta(message(raw, 1)));
      switch (kind) {
        case "TokenRequest" -> json.set("spec", tokenRequestSpec(message(raw, 2)));
        case "TokenReview" -> json.set("spec", tokenReviewSpec(message(raw, 2)));
        case "SubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview" ->
            json.set("spec", accessReviewSpec(message(raw, 2)));
        case "SelfSubjectReview", "ServiceAccount" -> {}
        case "Namespace" -> json.putObject("spec");
        default ->
            throw ApiException.unsupportedMediaType(
                "the body of the request was in an unknown format - this stand-in accepts "
                    + kind
                    + " only as application/json");
      }
      return json;
    } catch (InvalidProtocolBufferException e) {
      throw ApiException.badRequest("the protobuf request body does not parse: " + e.getMessage());
    }
  }

  private static ObjectNode objectMeta(UnknownFieldSet meta) {
    ObjectNode json = Json.MAPPER.createObjectNode();
    putIfSet(json, "name", string(meta, 1));
    putIfSet(json, "generateName", string(meta, 2));
    putIfSet(json, "namespace", string(meta, 3));
    stringMap(json, "labels", meta, 11);
    stringMap(json, "annotations", meta, 12);
    return json;
  }

  private static ObjectNode tokenRequestSpec(UnknownFieldSet spec)
      throws InvalidProtocolBufferException {
    ObjectNode json = Json.MAPPER.createObjectNode();
    strings(json.putArray("audiences"), spec, 1);
    List<Long> expiration = spec.hasField(4) ? spec.getField(4).getVarintList() : List.of();
    if (!expiration.isEmpty()) {
      json.put("expirationSeconds", expiration.get(expiration.size() - 1));
    }
    if (spec.hasField(3)) {
      UnknownFieldSet ref = message(spec, 3);
      ObjectNode refJson = json.putObject("boundObjectRef");
      putIfSet(refJson, "kind", string(ref, 1));
      putIfSet(refJson, "apiVersion", string(ref, 2));
      putIfSet(refJson, "name", string(ref, 3));
      putIfSet(refJson, "uid", string(ref, 4));
    }
    return json;
  }

  private static ObjectNode tokenReviewSpec(UnknownFieldSet spec) {
    ObjectNode json = Json.MAPPER.createObjectNode();
    putIfSet(json, "token", string(spec, 1));
    if (spec.hasField(2)) {
      strings(json.putArray("audiences"), spec, 2);
    }
    return json;
  }

  /** SubjectAccessReviewSpec; SelfSubjectAccessReviewSpec shares its first two fields. */
  private static ObjectNode accessReviewSpec(UnknownFieldSet spec)
      throws InvalidProtocolBufferException {
    ObjectNode json = Json.MAPPER.createObjectNode();
    if (spec.hasField(1)) {
      UnknownFieldSet attributes = message(spec, 1);
      ObjectNode attrs = json.putObject("resourceAttributes");
      String[] names = {"namespace", "verb", "group", "version", "resource", "subresource", "name"};
      for (int i = 0; i < names.length; i++) {
        putIfSet(attrs, names[i], string(attributes, i + 1));
      }
    }
    if (spec.hasField(2)) {
      UnknownFieldSet attributes = message(spec, 2);
      ObjectNode attrs = json.putObject("nonResourceAttributes");
      putIfSet(attrs, "path", string(attributes, 1));
      putIfSet(attrs, "verb", string(attributes, 2));
    }
    putIfSet(json, "user", string(spec, 3));
    if (spec.hasField(4)) {
      strings(json.putArray("groups"), spec, 4);
    }
    putIfSet(json, "uid", string(spec, 6));
    return json;
  }

  private static UnknownFieldSet message(UnknownFieldSet parent, int number)
      throws InvalidProtocolBufferException {
    if (!parent.hasField(number)) {
      return UnknownFieldSet.getDefaultInstance();
    }
    List<ByteString> values = parent.getField(number).getLengthDelimitedList();
    return values.isEmpty()
        ? UnknownFieldSet.getDefaultInstance()
        : UnknownFieldSet.parseFrom(values.get(values.size() - 1));
  }

  private static String string(UnknownFieldSet parent, int number) {
    if (!parent.hasField(number)) {
      return "";
    }
    List<ByteString> values = parent.getField(number).getLengthDelimitedList();
    return values.isEmpty() ? "" : values.get(values.size() - 1).toString(StandardCharsets.UTF_8);
  }

  private static void strings(ArrayNode out, UnknownFieldSet parent, int number) {
    if (parent.hasField(number)) {
      parent
          .getField(number)
          .getLengthDelimitedList()
          .forEach(v -> out.add(v.toString(StandardCharsets.UTF_8)));
    }
  }

  /** A proto map<string,string>: repeated entries with key 1 and value 2. */
  private static void stringMap(ObjectNode json, String field, UnknownFieldSet parent, int number) {
    if (!parent.hasField(number)) {
      return;
    }
    ObjectNode map = json.putObject(field);
    for (ByteString entryBytes : parent.getField(number).getLengthDelimitedList()) {
      try {
        UnknownFieldSet entry = UnknownFieldSet.parseFrom(entryBytes);
        map.put(string(entry, 1), string(entry, 2));
      } catch (InvalidProtocolBufferException e) {
        throw ApiException.badRequest(
            "the protobuf request body does not parse: " + e.getMessage());
      }
    }
  }

  private static void putIfSet(ObjectNode json, String field, String value) {
    if (!value.isEmpty()) {
      json.put(field, value);
    }
  }
}
