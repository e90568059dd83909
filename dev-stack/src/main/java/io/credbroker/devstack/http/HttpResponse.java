package io.credbroker.devstack.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * One response to send: status, headers and either body bytes or, for a response that is written
 * while it is produced (a Kubernetes watch), a {@link Streamer}.
 */
public record HttpResponse(
    int status, Map<String, String> headers, byte[] body, @Nullable Streamer streamer) {

  /**
   * Writes a response body of unknown length, sent with chunked transfer encoding. It runs on the
   * endpoint's worker thread for as long as the response lasts, must flush what the client should
   * see at once, and must return when interrupted (the endpoint is closing) or when a write fails
   * (the client went away).
   */
  @FunctionalInterface
  public interface Streamer {
    void writeTo(OutputStream out) throws IOException;
  }

  public HttpResponse {
    headers = Map.copyOf(headers);
  }

  public HttpResponse(int status, Map<String, String> headers, byte[] body) {
    this(status, headers, body, null);
  }

  /** A streamed response: headers now, then whatever {@code streamer} writes, chunked. */
  public static HttpResponse streaming(int status, Map<String, String> headers, Streamer streamer) {
    return new HttpResponse(status, headers, new byte[0], streamer);
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
    return new HttpResponse(status, copy, body, streamer);
  }
}
