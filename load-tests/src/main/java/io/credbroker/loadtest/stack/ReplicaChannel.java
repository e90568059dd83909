package io.credbroker.loadtest.stack;

import io.grpc.EquivalentAddressGroup;
import io.grpc.ManagedChannel;
import io.grpc.NameResolver;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A channel to several broker replicas, as a pod reaches them through one Kubernetes Service: it
 * connects to the first replica that answers, in the given order (gRPC's {@code pick_first}), and
 * when that connection breaks it connects again, to the next replica that answers. So every stream
 * of one channel lives on one replica, and moves together when that replica dies.
 */
public final class ReplicaChannel {

  private ReplicaChannel() {}

  /**
   * A new channel over {@code ports} on 127.0.0.1, in that order, with TLS trusting {@code caFile}
   * (the broker's certificate names {@code localhost}); the caller shuts it down.
   */
  public static ManagedChannel create(List<Integer> ports, Path caFile) {
    if (ports.isEmpty()) {
      throw new IllegalArgumentException("at least one replica port is needed");
    }
    List<SocketAddress> addresses =
        ports.stream().map(p -> (SocketAddress) new InetSocketAddress("127.0.0.1", p)).toList();
    try {
      @SuppressWarnings(
          "deprecation") // The only public way to give a channel a fixed address list.
      NettyChannelBuilder builder =
          NettyChannelBuilder.forTarget(
                  "replicas:///credential-broker",
                  TlsChannelCredentials.newBuilder().trustManager(caFile.toFile()).build())
              .nameResolverFactory(new FixedAddresses(addresses))
              .overrideAuthority("localhost");
      return builder.defaultLoadBalancingPolicy("pick_first").build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the broker's CA " + caFile, e);
    }
  }

  /** Resolves any target to one address group holding every replica, in order. */
  private static final class FixedAddresses extends NameResolver.Factory {
    private final List<SocketAddress> addresses;

    FixedAddresses(List<SocketAddress> addresses) {
      this.addresses = List.copyOf(addresses);
    }

    @Override
    public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
      return new NameResolver() {
        private @Nullable Listener2 listener;

        @Override
        public String getServiceAuthority() {
          return "localhost";
        }

        @Override
        public void start(Listener2 listener) {
          this.listener = listener;
          publish(listener);
        }

        @Override
        public void refresh() {
          Listener2 current = listener;
          if (current != null) {
            publish(current);
          }
        }

        private void publish(Listener2 to) {
          to.onResult(
              ResolutionResult.newBuilder()
                  .setAddresses(List.of(new EquivalentAddressGroup(addresses)))
                  .build());
        }

        @Override
        public void shutdown() {}
      };
    }

    @Override
    public String getDefaultScheme() {
      return "replicas";
    }
  }
}
