package io.credbroker.devstack.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.LinkedHashMap;
import java.util.Map;

/** One response to send: status, headers and body bytes. */
public record HttpResponse(int status, Map<String, String> headers, byte[] body) {

  public HttpResponse {
    headers = Map.copyOf(headers);
  }

  /** A JSON body serialised with {@link Json#MAPPER}. */
  public static HttpResponse json(int status, Object body) {
    return json(status, body, "application/json");
  }

  public static HttpResponse json(int status, Object body, String contentType) {
    try {
      return new HttpResponse(
          status, Map.of("Content-Type", contentType), Json.MAPPER.writeValueAsBytes(body));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("response body is not serialisable", e);
    }
  }

  /** A response without a body, such as 204. */
  public static HttpResponse empty(int status) {
    return new HttpResponse(status, Map.of(), new byte[0]);
  }

  /** A copy with one more header. */
  public HttpResponse withHeader(String name, String value) {
    Map<String, String> copy = new LinkedHashMap<>(headers);
    copy.put(name, value);
    return new HttpResponse(status, copy, body);
  }
}
