package io.credbroker.broker.vault;

import java.io.IOException;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.client.ClientHttpResponse;
import org.springframework.http.converter.AbstractJacksonHttpMessageConverter;
import org.springframework.http.converter.HttpMessageConverter;
import org.springframework.vault.support.VaultResponse;
import org.springframework.web.client.RequestCallback;
import org.springframework.web.client.RestClientException;
import org.springframework.web.client.RestOperations;
import org.springframework.web.client.RestTemplate;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.ObjectReader;
import tools.jackson.databind.ObjectWriter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Vault's JSON on the broker's per-call requests (a credential's creation and revocation), written
 * and read by {@code RestTemplate.execute} with what {@code exchange} would look up again on every
 * call fixed once: the {@code Accept} header (the media types of Spring Vault's JSON converter, the
 * only one that reads a {@link VaultResponse}), and a reader and a writer of that converter's own
 * mapper, so the JSON is read and written as before. The status is still checked by the template's
 * error handler, so an error answer is the same {@code HttpStatusCodeException}.
 *
 * <p>Immutable and thread-safe.
 */
final class VaultJson {

  /** What {@code exchange} asked for when reading a {@link VaultResponse}. */
  private static final List<MediaType> ACCEPT =
      List.of(MediaType.APPLICATION_JSON, new MediaType("application", "*+json"));

  private final ObjectReader responses;
  private final ObjectWriter bodies;

  private VaultJson(ObjectMapper mapper) {
    this.responses = mapper.readerFor(VaultResponse.class);
    this.bodies = mapper.writer();
  }

  /**
   * With the mapper of the template's JSON converter; a template without one (none of Spring
   * Vault's) gets a plain mapper.
   */
  static VaultJson of(RestOperations rest) {
    if (rest instanceof RestTemplate template) {
      for (HttpMessageConverter<?> converter : template.getMessageConverters()) {
        if (converter instanceof AbstractJacksonHttpMessageConverter<?> json) {
          return new VaultJson(json.getMapper());
        }
      }
    }
    return new VaultJson(JsonMapper.builder().build());
  }

  /**
   * A request that accepts Vault's JSON, carries {@code token} as {@code X-Vault-Token} when given
   * (otherwise the template's session adds the broker's), and {@code body} as JSON when given.
   */
  RequestCallback request(@Nullable String token, @Nullable Object body) {
    byte[] json = body == null ? null : bodies.writeValueAsBytes(body);
    return request -> {
      HttpHeaders headers = request.getHeaders();
      headers.setAccept(ACCEPT);
      if (token != null) {
        headers.set(VaultDatabaseCredentials.VAULT_TOKEN_HEADER, token);
      }
      if (json != null) {
        headers.setContentType(MediaType.APPLICATION_JSON);
        request.getBody().write(json);
      }
    };
  }

  /**
   * Vault's answer as a {@link VaultResponse}, {@code null} when it has no body (as {@code
   * exchange} answered); a body that is not one is a {@link RestClientException}, as it was.
   */
  @Nullable VaultResponse read(ClientHttpResponse response) throws IOException {
    byte[] body = response.getBody().readAllBytes();
    if (body.length == 0) {
      return null;
    }
    try {
      return responses.readValue(body);
    } catch (JacksonException e) {
      throw new RestClientException(
          "Error while extracting response for type [" + VaultResponse.class.getName() + "]", e);
    }
  }
}
