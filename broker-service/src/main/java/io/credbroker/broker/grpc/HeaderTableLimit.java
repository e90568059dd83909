package io.credbroker.broker.grpc;

import io.grpc.internal.ObjectPool;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2Settings;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import org.jspecify.annotations.Nullable;
import org.springframework.grpc.server.ServerBuilderCustomizer;

/**
 * Makes the gRPC server announce an HPACK dynamic table of {@code size} bytes ({@code
 * SETTINGS_HEADER_TABLE_SIZE}) on every connection, in a SETTINGS frame sent right after
 * grpc-java's own.
 *
 * <p>Why. A pod holds one connection with one long {@code WatchCredential} stream. Under HTTP/2's
 * default (4,096 bytes), the client's encoder inserts the headers of the first stream (its bearer
 * token, user agent, path) into the connection's dynamic table, and the server's decoder keeps a
 * copy for the life of the connection although no second header block may ever come: about 2 KiB of
 * heap per pod that serves nothing. With the limit acknowledged by the client, Netty's decoder
 * shrinks its table to the limit at once ({@code HpackDecoder.setMaxHeaderTableSize}) and the
 * client must announce the new size in its next header block (RFC 7541, section 4.2). Header blocks
 * are then sent with literals only, which costs a few hundred bytes per call on the wire and
 * nothing per connection.
 *
 * <p>How. grpc-java 1.77 announces only the initial window, the stream limit and the header list
 * limit ({@code NettyServerHandler.newHandler}); neither {@code NettyServerBuilder} nor its
 * internal accessors expose the header table size, and a builder made from {@code
 * ServerCredentials} (as spring-grpc makes it) refuses a new protocol negotiator. This customizer
 * therefore wraps the builder's negotiator factory (a private field) so that every connection's
 * negotiation handler is followed by one that sends the extra SETTINGS frame once the HTTP/2
 * handler is in place. TLS and the negotiation themselves are left exactly as grpc-java does them.
 * If a grpc-java upgrade renames the field, the broker refuses to start rather than run without the
 * limit.
 */
final class HeaderTableLimit implements ServerBuilderCustomizer<NettyServerBuilder> {

  private static final String FACTORY_FIELD = "protocolNegotiatorFactory";

  private final long size;

  /**
   * @param size the dynamic table size announced, in bytes (0: no dynamic table)
   * @throws IllegalArgumentException when {@code size} is negative
   */
  HeaderTableLimit(long size) {
    if (size < 0) {
      throw new IllegalArgumentException("the HPACK table size cannot be negative");
    }
    this.size = size;
  }

  @Override
  public void customize(NettyServerBuilder builder) {
    try {
      Field field = NettyServerBuilder.class.getDeclaredField(FACTORY_FIELD);
      field.setAccessible(true);
      Object factory = field.get(builder);
      if (factory == null) {
        throw new IllegalStateException("the gRPC server builder holds no protocol negotiator");
      }
      Class<?> factoryType = field.getType();
      Class<?> negotiatorType =
          factoryType.getMethod("newNegotiator", ObjectPool.class).getReturnType();
      field.set(
          builder,
          // Also implementing the package-private negotiator interface defines the proxy in
          // grpc-java's package, whose types its method (returning that interface) must reach.
          proxy(
              new Class<?>[] {factoryType, negotiatorType},
              (proxy, method, args) -> {
                Object result = invoke(method, factory, args);
                return method.getName().equals("newNegotiator") && result != null
                    ? negotiator(method.getReturnType(), result)
                    : result;
              }));
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException(
          "grpc-java's server builder no longer exposes its protocol negotiator; the HPACK table"
              + " limit cannot be applied",
          e);
    }
  }

  /** A negotiator that hands each connection's handler to {@link AnnounceTableSize}. */
  private Object negotiator(Class<?> type, Object negotiator) {
    return proxy(
        new Class<?>[] {type},
        (proxy, method, args) -> {
          Object result = invoke(method, negotiator, args);
          if (method.getName().equals("newHandler")
              && args != null
              && args.length == 1
              && args[0] instanceof GrpcHttp2ConnectionHandler http2
              && result instanceof ChannelHandler negotiation) {
            return new AnnounceTableSize(negotiation, http2, size);
          }
          return result;
        });
  }

  private static Object proxy(Class<?>[] types, InvocationHandler handler) {
    return Proxy.newProxyInstance(types[0].getClassLoader(), types, handler);
  }

  private static @Nullable Object invoke(Method method, Object target, Object @Nullable [] args)
      throws Throwable {
    method.setAccessible(true);
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /**
   * Put where grpc-java would put its negotiation handler: adds that handler in front of itself,
   * passes everything on, and after the first bytes the HTTP/2 handler has read (the client's
   * preface, by then answered with grpc-java's own SETTINGS) sends a SETTINGS frame with the table
   * size through that handler's encoder, which applies it to the decoder when the client
   * acknowledges it. Then it leaves the pipeline.
   */
  static final class AnnounceTableSize extends ChannelInboundHandlerAdapter {
    private final ChannelHandler negotiation;
    private final GrpcHttp2ConnectionHandler http2;
    private final long size;

    AnnounceTableSize(ChannelHandler negotiation, GrpcHttp2ConnectionHandler http2, long size) {
      this.negotiation = negotiation;
      this.http2 = http2;
      this.size = size;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      ctx.pipeline().addBefore(ctx.name(), null, negotiation);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      ChannelHandlerContext http2Context = ctx.pipeline().context(http2);
      if (http2Context != null) {
        ctx.pipeline().remove(this);
        http2
            .encoder()
            .writeSettings(
                http2Context, new Http2Settings().headerTableSize(size), http2Context.newPromise());
        http2Context.flush();
      }
      ctx.fireChannelReadComplete();
    }
  }
}
