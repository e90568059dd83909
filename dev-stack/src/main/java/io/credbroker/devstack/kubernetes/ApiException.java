package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import org.jspecify.annotations.Nullable;

/**
 * A request the API server refuses, carried to the edge as a {@code metav1.Status} body with the
 * reason, message and details shape of the real server ({@code
 * k8s.io/apimachinery/pkg/api/errors}). Thrown by the store and the handlers; the HTTP layer turns
 * it into the response.
 */
final class ApiException extends RuntimeException {

  private final int code;
  private final String reason;
  private final @Nullable ObjectNode details;

  private ApiException(int code, String reason, String message, @Nullable ObjectNode details) {
    super(message, null, false, false);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** {@code pods "x" not found}. */
  static ApiException notFound(String group, String resource, String name) {
    return new ApiException(
        404,
        "NotFound",
        qualified(resource, group) + " \"" + name + "\" not found",
        details(name, group, resource));
  }

  /** {@code pods "x" already exists}. */
  static ApiException alreadyExists(String group, String resource, String name) {
    return new ApiException(
        409,
        "AlreadyExists",
        qualified(resource, group) + " \"" + name + "\" already exists",
        details(name, group, resource));
  }

  /** {@code Operation cannot be fulfilled on pods "x": why}. */
  static ApiException conflict(String group, String resource, String name, String why) {
    return new ApiException(
        409,
        "Conflict",
        "Operation cannot be fulfilled on "
            + qualified(resource, group)
            + " \""
            + name
            + "\": "
            + why,
        details(name, group, resource));
  }

  static ApiException badRequest(String message) {
    return new ApiException(400, "BadRequest", message, null);
  }

  /** 410 Gone with reason Expired: what a watch from a compacted resourceVersion gets. */
  static ApiException gone(String message) {
    return new ApiException(410, "Expired", message, null);
  }

  static ApiException tooManyRequests(String message) {
    ObjectNode details = Json.MAPPER.createObjectNode();
    details.put("retryAfterSeconds", 1);
    return new ApiException(429, "TooManyRequests", message, details);
  }

  static ApiException serviceUnavailable(String message) {
    return new ApiException(503, "ServiceUnavailable", message, null);
  }

  static ApiException unauthorized() {
    return new ApiException(401, "Unauthorized", "Unauthorized", null);
  }

  /** A 403 whose message is written in full by the caller. */
  static ApiException forbidden(String group, String resource, String name, String message) {
    return new ApiException(403, "Forbidden", message, details(name, group, resource));
  }

  static ApiException unsupportedMediaType(String message) {
    return new ApiException(415, "UnsupportedMediaType", message, null);
  }

  static ApiException methodNotAllowed(String message) {
    return new ApiException(405, "MethodNotAllowed", message, null);
  }

  static ApiException pathNotFound() {
    return new ApiException(
        404, "NotFound", "the server could not find the requested resource", details("", "", ""));
  }

  /**
   * A 422 for one invalid field, as {@code errors.NewInvalid} words it: {@code
   * TokenRequest.authentication.k8s.io "sa" is invalid: spec.expirationSeconds: Invalid value: 10:
   * may not specify a duration less than 10 minutes}.
   */
  static ApiException invalid(
      String group, String kind, String name, String field, String renderedValue, String why) {
    return unprocessable(
        group,
        kind,
        name,
        field,
        "FieldValueInvalid",
        "Invalid value: " + renderedValue + ": " + why);
  }

  /** A 422 for a missing field: {@code Pod "x" is invalid: spec.containers: Required value}. */
  static ApiException required(
      String group, String kind, String name, String field, String detail) {
    String why = detail.isEmpty() ? "Required value" : "Required value: " + detail;
    return unprocessable(group, kind, name, field, "FieldValueRequired", why);
  }

  /** The 422 {@code errors.NewInvalid} builds from one field cause. */
  private static ApiException unprocessable(
      String group, String kind, String name, String field, String reason, String message) {
    String qualifiedKind = group.isEmpty() ? kind : kind + "." + group;
    ObjectNode details = Json.MAPPER.createObjectNode();
    details.put("name", name);
    if (!group.isEmpty()) {
      details.put("group", group);
    }
    details.put("kind", kind);
    details
        .putArray("causes")
        .addObject()
        .put("reason", reason)
        .put("message", message)
        .put("field", field);
    return new ApiException(
        422,
        "Invalid",
        qualifiedKind + " \"" + name + "\" is invalid: " + field + ": " + message,
        details);
  }

  int code() {
    return code;
  }

  /** The {@code metav1.Status} body. */
  ObjectNode toStatus() {
    ObjectNode status = Json.MAPPER.createObjectNode();
    status.put("kind", "Status");
    status.put("apiVersion", "v1");
    status.putObject("metadata");
    status.put("status", "Failure");
    status.put("message", getMessage());
    status.put("reason", reason);
    if (details != null) {
      status.set("details", details);
    }
    status.put("code", code);
    return status;
  }

  static String qualified(String resource, String group) {
    return group.isEmpty() ? resource : resource + "." + group;
  }

  private static ObjectNode details(String name, String group, String resource) {
    ObjectNode details = Json.MAPPER.createObjectNode();
    if (!name.isEmpty()) {
      details.put("name", name);
    }
    if (!group.isEmpty()) {
      details.put("group", group);
    }
    if (!resource.isEmpty()) {
      details.put("kind", resource);
    }
    return details;
  }
}
