package io.credbroker.broker;

import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A Kubernetes Service in front of several broker replicas, as a gRPC client resolves it: one name
 * ({@code broker-replicas:///port1,port2}) with every replica's address on 127.0.0.1, tried in
 * order by gRPC's default pick-first policy, so a client moves on when its replica goes away.
 * Clients that list the same ports in different orders spread over the replicas.
 *
 * <p>{@link #register()} once per JVM (failsafe runs every IT class in one JVM) before a client
 * resolves such a target.
 */
final class ReplicaListResolverProvider extends NameResolverProvider {

  static final String SCHEME = "broker-replicas";

  private static boolean registered;

  /** Adds the provider to gRPC's default registry unless this JVM already did. */
  static synchronized void register() {
    if (!registered) {
      NameResolverRegistry.getDefaultRegistry().register(new ReplicaListResolverProvider());
      registered = true;
    }
  }

  /** The target that resolves to these ports on 127.0.0.1, in this order. */
  static String target(int... ports) {
    return SCHEME
        + ":///"
        + String.join(",", Arrays.stream(ports).mapToObj(Integer::toString).toList());
  }

  @Override
  protected boolean isAvailable() {
    return true;
  }

  @Override
  protected int priority() {
    return 5;
  }

  @Override
  public String getDefaultScheme() {
    return SCHEME;
  }

  @Override
  public @Nullable NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    if (!SCHEME.equals(targetUri.getScheme())) {
      return null;
    }
    List<EquivalentAddressGroup> addresses =
        Arrays.stream(targetUri.getPath().substring(1).split(","))
            .map(
                port ->
                    new EquivalentAddressGroup(
                        new InetSocketAddress("127.0.0.1", Integer.parseInt(port))))
            .toList();
    return new NameResolver() {
      @Override
      public String getServiceAuthority() {
        return "credential-broker";
      }

      @Override
      public void start(Listener2 listener) {
        listener.onResult(ResolutionResult.newBuilder().setAddresses(addresses).build());
      }

      @Override
      public void shutdown() {}
    };
  }
}
