package io.credbroker.broker.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Marker;

/**
 * Drops everything below INFO from the loggers that print what goes over the wire, whatever level
 * they are set to: their DEBUG output carries secrets the broker cannot mask, since it is raw bytes
 * or headers. Apache HttpClient's {@code wire} and {@code headers} loggers print the Vault token
 * ({@code X-Vault-Token}), the service-account JWT of the Vault login and every password Vault
 * returns; grpc-netty's frame loggers ({@code NettyServerHandler}, {@code NettyClientHandler})
 * print every pod's {@code authorization} header and message bytes; Netty's {@code LoggingHandler}
 * and fabric8's {@code HttpLoggingInterceptor} print requests and bodies. Of Spring's {@code
 * RestTemplate}, through which every Vault call goes, only the line that prints the request body
 * ({@code Writing [...]}) is dropped: it holds the service-account JWT of the Vault login. An
 * operator who turns {@code io.grpc}, {@code org.apache.hc} or everything to DEBUG gets everything
 * else those libraries log.
 *
 * <p>Installed by {@code logback-spring.xml}. A turbo filter runs before the level check, so the
 * libraries also see DEBUG as disabled and do not format what would be dropped.
 *
 * <p>It runs on every {@code isDebugEnabled} of every logger (Apache HttpClient asks several times
 * per Vault call), so which logger names are wire loggers is remembered: a map as large as the
 * number of loggers, which logback keeps for the life of the process anyway. Thread-safe.
 */
public final class WireLoggersFilter extends TurboFilter {

  /** Loggers, and the loggers under them, that are never logged below INFO. */
  static final List<String> WIRE_LOGGERS =
      List.of(
          "org.apache.hc.client5.http.wire",
          "org.apache.hc.client5.http.headers",
          "io.grpc.netty.NettyServerHandler",
          "io.grpc.netty.NettyClientHandler",
          "io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler",
          "io.grpc.netty.shaded.io.grpc.netty.NettyClientHandler",
          "io.netty.handler.logging.LoggingHandler",
          "io.fabric8.kubernetes.client.http.HttpLoggingInterceptor");

  /** Loggers whose DEBUG lines starting with this text print a request body. */
  static final List<Map.Entry<String, String>> BODY_LINES =
      List.of(Map.entry("org.springframework.web.client.RestTemplate", "Writing ["));

  /** Whether each logger name seen so far is a wire logger (or under one). */
  private final Map<String, Boolean> wireLoggerNames = new ConcurrentHashMap<>();

  @Override
  public FilterReply decide(
      @Nullable Marker marker,
      Logger logger,
      @Nullable Level level,
      @Nullable String format,
      Object @Nullable [] params,
      @Nullable Throwable t) {
    if (level != null && level.isGreaterOrEqual(Level.INFO)) {
      return FilterReply.NEUTRAL;
    }
    String name = logger.getName();
    Boolean wire = wireLoggerNames.get(name);
    if (wire == null) {
      wire = wireLoggerNames.computeIfAbsent(name, WireLoggersFilter::isWireLogger);
    }
    if (wire) {
      return FilterReply.DENY;
    }
    if (format != null) {
      for (Map.Entry<String, String> body : BODY_LINES) {
        if (name.equals(body.getKey()) && format.startsWith(body.getValue())) {
          return FilterReply.DENY;
        }
      }
    }
    return FilterReply.NEUTRAL;
  }

  static boolean isWireLogger(String name) {
    for (String wire : WIRE_LOGGERS) {
      if (name.equals(wire) || (name.startsWith(wire) && name.charAt(wire.length()) == '.')) {
        return true;
      }
    }
    return false;
  }
}
