package io.credbroker.broker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;
import org.jspecify.annotations.Nullable;

/**
 * HTTPS calls to the admin API with the operator's bearer token. The broker's certificate is always
 * verified: against {@code caFile} (else the JVM's trust store), and for the name {@code
 * tlsServerName} when given (sent as SNI and checked against the certificate, as {@code kubectl
 * --tls-server-name} does), which is how a port-forward to {@code localhost} is verified against
 * the Service's name. An RFC 9457 problem answer becomes a {@link CliException} with its detail.
 *
 * <p>Not thread-safe; one per command run.
 */
final class AdminClient {

  static final ObjectMapper JSON = new ObjectMapper();

  private final URI server;
  private final String token;
  private final SSLSocketFactory sockets;
  private final Duration timeout;

  AdminClient(
      URI server,
      String token,
      @Nullable Path caFile,
      @Nullable String tlsServerName,
      Duration timeout) {
    if (!"https".equals(server.getScheme()) || server.getHost() == null) {
      throw new CliException("--server must be an https:// URL, was " + server);
    }
    this.server = server;
    this.token = Objects.requireNonNull(token, "token");
    this.timeout = timeout;
    SSLSocketFactory factory = sslContext(caFile).getSocketFactory();
    this.sockets =
        tlsServerName == null ? factory : new ServerNameSocketFactory(factory, tlsServerName);
  }

  JsonNode get(String path, Map<String, @Nullable Object> query) {
    return call("GET", path + queryString(query), null);
  }

  JsonNode post(String path, Map<String, @Nullable Object> query, JsonNode body) {
    return call("POST", path + queryString(query), body);
  }

  /** {@code /a/b} with each segment encoded. */
  static String path(String... segments) {
    StringBuilder path = new StringBuilder();
    for (String segment : segments) {
      path.append('/')
          .append(URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20"));
    }
    return path.toString();
  }

  static Map<String, @Nullable Object> query(@Nullable Object... keysAndValues) {
    Map<String, @Nullable Object> query = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      query.put(String.valueOf(keysAndValues[i]), keysAndValues[i + 1]);
    }
    return query;
  }

  private JsonNode call(String method, String pathAndQuery, @Nullable JsonNode body) {
    URI uri = server.resolve("/admin/v1" + pathAndQuery);
    HttpsURLConnection connection = null;
    try {
      connection = (HttpsURLConnection) uri.toURL().openConnection();
      connection.setSSLSocketFactory(sockets);
      connection.setConnectTimeout((int) timeout.toMillis());
      connection.setReadTimeout((int) timeout.toMillis());
      connection.setRequestMethod(method);
      connection.setRequestProperty("Authorization", "Bearer " + token);
      connection.setRequestProperty("Accept", "application/json, application/problem+json");
      if (body != null) {
        connection.setDoOutput(true);
        connection.setRequestProperty("Content-Type", "application/json");
        try (OutputStream out = connection.getOutputStream()) {
          out.write(JSON.writeValueAsBytes(body));
        }
      }
      int status = connection.getResponseCode();
      InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
      byte[] bytes = in == null ? new byte[0] : in.readAllBytes();
      JsonNode answer = bytes.length == 0 ? JSON.createObjectNode() : JSON.readTree(bytes);
      if (status >= 400) {
        throw problem(status, answer);
      }
      return answer;
    } catch (SSLException e) {
      throw new CliException(
          "TLS to "
              + server
              + " failed: "
              + e.getMessage()
              + " (is --ca-file the CA that signed the broker's certificate, and --tls-server-name a"
              + " name in it?)");
    } catch (IOException e) {
      throw new CliException("cannot reach the admin API at " + server + ": " + e);
    } finally {
      if (connection != null) {
        connection.disconnect();
      }
    }
  }

  private static CliException problem(int status, JsonNode problem) {
    String reason = problem.path("reason").asText("");
    String detail = problem.path("detail").asText(problem.path("title").asText("HTTP " + status));
    String hint =
        switch (status) {
          case 401 ->
              " (the broker could not authenticate your kubeconfig token; log in again, e.g. kubectl get ns)";
          case 403 -> " (ask for the credbroker revoker or viewer ClusterRole in that namespace)";
          case 503 -> " (retry in a moment)";
          default -> "";
        };
    return new CliException(
        "HTTP " + status + (reason.isEmpty() ? "" : " " + reason) + ": " + detail + hint);
  }

  private static String queryString(Map<String, @Nullable Object> query) {
    StringBuilder s = new StringBuilder();
    for (Map.Entry<String, @Nullable Object> entry : query.entrySet()) {
      if (entry.getValue() == null) {
        continue;
      }
      s.append(s.length() == 0 ? '?' : '&')
          .append(URLEncoder.encode(entry.getKey(), StandardCharsets.UTF_8))
          .append('=')
          .append(URLEncoder.encode(String.valueOf(entry.getValue()), StandardCharsets.UTF_8));
    }
    return s.toString();
  }

  private static SSLContext sslContext(@Nullable Path caFile) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      if (caFile == null) {
        context.init(null, null, null);
        return context;
      }
      KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
      trusted.load(null, null);
      List<? extends Certificate> certificates;
      try (InputStream in = Files.newInputStream(caFile)) {
        certificates =
            List.copyOf(CertificateFactory.getInstance("X.509").generateCertificates(in));
      }
      if (certificates.isEmpty()) {
        throw new CliException("--ca-file " + caFile + " holds no PEM certificate");
      }
      for (int i = 0; i < certificates.size(); i++) {
        trusted.setCertificateEntry("ca-" + i, certificates.get(i));
      }
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(trusted);
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (IOException e) {
      throw new CliException("cannot read --ca-file " + caFile + ": " + e.getMessage());
    } catch (GeneralSecurityException e) {
      throw new CliException("cannot use --ca-file " + caFile + ": " + e.getMessage());
    }
  }

  /**
   * Verifies the broker's certificate for {@code serverName} only, whatever host the URL names, as
   * {@code kubectl --tls-server-name} does: the TLS layer is put over the connected socket with
   * {@code serverName} as its peer host, sent as SNI, and checked by the JDK's HTTPS endpoint
   * identification.
   *
   * <p>Setting SNI alone is not enough: when the certificate does not name the SNI host, the JDK's
   * trust manager falls back to checking the socket's peer host, the URL's host. A certificate for
   * {@code 127.0.0.1} (or whatever host {@code --server} names) would then pass for any {@code
   * --tls-server-name}. So no unconnected SSL socket is offered (the default {@link
   * javax.net.SocketFactory#createSocket()} refuses), and {@code HttpsURLConnection} layers TLS
   * over its plain socket through {@link #createSocket(Socket, String, int, boolean)}, where the
   * host is replaced.
   */
  private static final class ServerNameSocketFactory extends SSLSocketFactory {

    private final SSLSocketFactory delegate;
    private final String serverName;

    ServerNameSocketFactory(SSLSocketFactory delegate, String serverName) {
      this.delegate = delegate;
      this.serverName = serverName;
    }

    @Override
    public String[] getDefaultCipherSuites() {
      return delegate.getDefaultCipherSuites();
    }

    @Override
    public String[] getSupportedCipherSuites() {
      return delegate.getSupportedCipherSuites();
    }

    /** TLS over {@code s} for {@code serverName}; {@code host} is where {@code s} connects. */
    @Override
    public Socket createSocket(Socket s, String host, int port, boolean autoClose)
        throws IOException {
      Socket socket = delegate.createSocket(s, serverName, port, autoClose);
      if (socket instanceof SSLSocket ssl) {
        SSLParameters parameters = ssl.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(serverName)));
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        ssl.setSSLParameters(parameters);
      }
      return socket;
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
      return createSocket(new Socket(host, port), host, port, true);
    }

    @Override
    public Socket createSocket(String host, int port, java.net.InetAddress localHost, int localPort)
        throws IOException {
      return createSocket(new Socket(host, port, localHost, localPort), host, port, true);
    }

    @Override
    public Socket createSocket(java.net.InetAddress host, int port) throws IOException {
      return createSocket(new Socket(host, port), host.getHostAddress(), port, true);
    }

    @Override
    public Socket createSocket(
        java.net.InetAddress address, int port, java.net.InetAddress localAddress, int localPort)
        throws IOException {
      return createSocket(
          new Socket(address, port, localAddress, localPort), address.getHostAddress(), port, true);
    }
  }
}
