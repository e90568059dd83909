package io.credbroker.devstack.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A listening HTTP or HTTPS server that hands every request to one {@link Handler}.
 *
 * <p>Lifecycle: {@link #start} binds and serves at once; {@link #close} stops accepting, waits up
 * to a second for requests in flight and frees the port. Requests run on a pool of daemon threads,
 * so the handler must be thread-safe. A handler that throws gets a bare 500; stand-ins translate
 * their own errors before that. A streamed response (a watch) holds its worker thread until it
 * ends. {@link #faults()} injects delays and error answers in front of the handler.
 */
public final class HttpEndpoint implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(HttpEndpoint.class);

  static {
    // The JDK server leaves Nagle's algorithm on, which delays every small response by ~40 ms
    // behind the client's delayed ACK. Read once per JVM, when the first server is created.
    if (System.getProperty("sun.net.httpserver.nodelay") == null) {
      System.setProperty("sun.net.httpserver.nodelay", "true");
    }
    // The JDK server closes a connection idle for 30 s (checked every 10 s), kube-apiserver only
    // after 90 s (IdleTimeout in k8s.io/apiserver/pkg/server/secure_serving.go; Vault after 5
    // minutes, http_idle_timeout). A client that keeps idle connections for 60 s, as the fabric8
    // client's Vert.x does, would reuse a connection the stand-in had closed, and its request would
    // fail ("Connection was closed") where the real server would have answered.
    if (System.getProperty("sun.net.httpserver.idleInterval") == null) {
      System.setProperty("sun.net.httpserver.idleInterval", "90");
    }
  }

  private final HttpServer server;
  private final ExecutorService executor;
  private final HttpFaults faults;

  private HttpEndpoint(HttpServer server, ExecutorService executor, HttpFaults faults) {
    this.server = server;
    this.executor = executor;
    this.faults = faults;
  }

  /**
   * Binds {@code address} (port 0 picks a free one) and starts serving.
   *
   * @param tls the server's TLS context, or null for plain HTTP
   * @param name a short name used for thread names
   */
  public static HttpEndpoint start(
      InetSocketAddress address, @Nullable SSLContext tls, String name, Handler handler) {
    return start(address, tls, name, handler, new HttpFaults());
  }

  /**
   * As {@link #start(InetSocketAddress, SSLContext, String, Handler)}, with {@code faults} in front
   * of the handler: a server with two listeners (HTTP and HTTPS) shares one set of faults.
   */
  public static HttpEndpoint start(
      InetSocketAddress address,
      @Nullable SSLContext tls,
      String name,
      Handler handler,
      HttpFaults faults) {
    try {
      HttpServer server;
      if (tls != null) {
        HttpsServer https = HttpsServer.create(address, 512);
        https.setHttpsConfigurator(new HttpsConfigurator(tls));
        server = https;
      } else {
        server = HttpServer.create(address, 512);
      }
      AtomicInteger threads = new AtomicInteger();
      ExecutorService executor =
          Executors.newFixedThreadPool(
              64,
              r -> {
                Thread t = new Thread(r, name + "-http-" + threads.incrementAndGet());
                t.setDaemon(true);
                return t;
              });
      server.setExecutor(executor);
      server.createContext("/", exchange -> serve(exchange, faults, handler));
      server.start();
      return new HttpEndpoint(server, executor, faults);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + address, e);
    }
  }

  public int port() {
    return server.getAddress().getPort();
  }

  public String host() {
    return server.getAddress().getHostString();
  }

  /** The faults this endpoint injects in front of its handler; none until one is set. */
  public HttpFaults faults() {
    return faults;
  }

  @Override
  public void close() {
    server.stop(1);
    executor.shutdownNow();
  }

  private static void serve(HttpExchange exchange, HttpFaults faults, Handler handler)
      throws IOException {
    try (exchange) {
      HttpResponse response;
      try {
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
          body = in.readAllBytes();
        }
        HttpRequest request =
            new HttpRequest(
                exchange.getRequestMethod(),
                exchange.getRequestURI().getRawPath() == null
                    ? "/"
                    : java.net.URLDecoder.decode(
                        exchange.getRequestURI().getRawPath().replace("+", "%2B"),
                        java.nio.charset.StandardCharsets.UTF_8),
                HttpRequest.parseQuery(exchange.getRequestURI().getRawQuery()),
                exchange.getRequestHeaders(),
                body,
                Map.of());
        response = faults.apply(request, handler);
      } catch (Exception e) {
        log.error(
            "unhandled error for {} {}",
            exchange.getRequestMethod(),
            exchange.getRequestURI().getPath(),
            e);
        response = HttpResponse.empty(500);
      }
      response.headers().forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
      HttpResponse.Streamer streamer = response.streamer();
      if (streamer != null && !exchange.getRequestMethod().equalsIgnoreCase("HEAD")) {
        // Length 0 means chunked: each flush sends what was written as one chunk.
        exchange.sendResponseHeaders(response.status(), 0);
        try (OutputStream out = exchange.getResponseBody()) {
          streamer.writeTo(out);
        }
        return;
      }
      boolean noBody =
          response.body().length == 0 || exchange.getRequestMethod().equalsIgnoreCase("HEAD");
      exchange.sendResponseHeaders(response.status(), noBody ? -1 : response.body().length);
      if (!noBody) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(response.body());
        }
      }
    }
  }
}
