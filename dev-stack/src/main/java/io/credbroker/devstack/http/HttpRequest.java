package io.credbroker.devstack.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * One received request. Header names are matched case-insensitively; {@code pathParams} holds what
 * the router captured from the path pattern.
 */
public record HttpRequest(
    String method,
    String path,
    Map<String, String> query,
    Map<String, List<String>> headers,
    byte[] body,
    Map<String, String> pathParams) {

  public HttpRequest {
    query = Map.copyOf(query);
    Map<String, List<String>> lower = new LinkedHashMap<>();
    headers.forEach((k, v) -> lower.put(k.toLowerCase(Locale.ROOT), List.copyOf(v)));
    headers = Map.copyOf(lower);
    pathParams = Map.copyOf(pathParams);
  }

  /** The first value of a header, or null. */
  public @Nullable String header(String name) {
    List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
    return values == null || values.isEmpty() ? null : values.get(0);
  }

  public @Nullable String queryParam(String name) {
    return query.get(name);
  }

  public String pathParam(String name) {
    String value = pathParams.get(name);
    if (value == null) {
      throw new IllegalStateException("route has no path parameter " + name);
    }
    return value;
  }

  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }

  /**
   * The body as JSON; an empty body reads as an empty object.
   *
   * @throws MalformedBodyException when the body is not JSON
   */
  public JsonNode json() {
    if (body.length == 0 || bodyText().isBlank()) {
      return JsonNodeFactory.instance.objectNode();
    }
    try {
      return Json.MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      throw new MalformedBodyException("failed to parse JSON input: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new MalformedBodyException("failed to read input");
    }
  }

  /** A copy with path parameters set by the router. */
  public HttpRequest withPathParams(Map<String, String> params) {
    return new HttpRequest(method, path, query, headers, body, params);
  }

  static Map<String, String> parseQuery(@Nullable String rawQuery) {
    Map<String, String> result = new LinkedHashMap<>();
    if (rawQuery == null || rawQuery.isEmpty()) {
      return result;
    }
    for (String pair : rawQuery.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      result.putIfAbsent(
          URLDecoder.decode(key, StandardCharsets.UTF_8),
          URLDecoder.decode(value, StandardCharsets.UTF_8));
    }
    return result;
  }

  /** The body could not be parsed; stand-ins answer it with their own 400 shape. */
  public static final class MalformedBodyException extends RuntimeException {
    public MalformedBodyException(String message) {
      super(message);
    }
  }
}
