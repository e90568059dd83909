package io.credbroker.loadtest.heap;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.netbeans.lib.profiler.heap.GCRoot;
import org.netbeans.lib.profiler.heap.Heap;
import org.netbeans.lib.profiler.heap.HeapFactory;
import org.netbeans.lib.profiler.heap.Instance;
import org.netbeans.lib.profiler.heap.JavaClass;
import org.netbeans.lib.profiler.heap.ObjectArrayInstance;
import org.netbeans.lib.profiler.heap.ObjectFieldValue;

/**
 * Where a broker's heap per connected pod goes, from a heap dump taken while the pods' streams are
 * open ({@code jcmd <pid> GC.heap_dump}).
 *
 * <p>The pods' part of the heap is what only their connections and streams keep alive: the objects
 * that are no longer reachable from the GC roots once every instance of {@link #ENTRY_CLASSES} (a
 * connection's channel and its handlers, a call and its stream) is taken away. Each such object is
 * counted for the nearest {@link #COMPONENTS component} on the way to it from those entries, in
 * breadth-first order; what is reached before any component counts for the entry itself.
 *
 * <p>Not thread-safe; one analysis per instance of the dump.
 */
public final class HeapOwners {

  /** The ways into a connection or a call from the rest of the heap (event loop, registries). */
  static final List<String> ENTRY_CLASSES =
      List.of(
          "io.netty.channel.epoll.EpollSocketChannel",
          "io.netty.channel.epoll.EpollSocketChannel$EpollSocketChannelUnsafe",
          "io.netty.channel.epoll.EpollIoHandler$DefaultEpollIoRegistration",
          "io.netty.channel.socket.nio.NioSocketChannel",
          "io.netty.channel.SingleThreadIoEventLoop$IoRegistrationWrapper",
          "io.netty.channel.DefaultChannelPipeline",
          "io.netty.channel.DefaultChannelHandlerContext",
          "io.netty.util.concurrent.ScheduledFutureTask",
          "io.netty.handler.ssl.SslHandler",
          "io.grpc.netty.NettyServerHandler",
          "io.grpc.netty.NettyServerTransport",
          "io.grpc.netty.NettyServerStream",
          "io.grpc.netty.NettyServerStream$TransportState",
          "io.grpc.internal.ServerCallImpl",
          "io.credbroker.broker.grpc.WatchStream");

  /** The classes bytes are counted for, each with the layer it belongs to. */
  static final Map<String, String> COMPONENTS = components();

  private final Heap heap;
  private final List<String> entryClasses;
  private final Map<String, String> components;

  private HeapOwners(Heap heap, List<String> entryClasses, Map<String, String> components) {
    this.heap = heap;
    this.entryClasses = entryClasses;
    this.components = components;
  }

  /**
   * One component's share.
   *
   * @param layer TLS, HTTP/2, channel, gRPC call, request headers or broker
   * @param component the class the bytes were counted for
   * @param bytes shallow bytes of the objects counted for it
   * @param objects how many objects
   */
  public record Owner(String layer, String component, long bytes, long objects) {}

  /**
   * The pods' part of the heap and its owners.
   *
   * @param totalBytes live bytes reachable only through the entries
   * @param owners by component, largest first
   */
  public record Analysis(long totalBytes, List<Owner> owners) {}

  /** Reads {@code dump} (HPROF) and attributes the pods' part of the heap. */
  public static Analysis analyse(Path dump) throws IOException {
    return analyse(dump, ENTRY_CLASSES, COMPONENTS);
  }

  /**
   * Reads {@code dump} and attributes what only instances of {@code entryClasses} keep alive to the
   * nearest of {@code components} (class name to layer).
   */
  static Analysis analyse(Path dump, List<String> entryClasses, Map<String, String> components)
      throws IOException {
    Heap heap = HeapFactory.createHeap(new File(dump.toString()));
    return new HeapOwners(heap, entryClasses, components).analyse();
  }

  private Analysis analyse() {
    Set<Long> entryIds = new HashSet<>();
    List<Instance> entries = new ArrayList<>();
    for (String name : entryClasses) {
      JavaClass c = heap.getJavaClassByName(name);
      if (c == null) {
        continue;
      }
      for (Instance i : c.getInstances()) {
        entryIds.add(i.getInstanceId());
        entries.add(i);
      }
    }
    Set<Long> seen = reachableWithout(entryIds);
    Map<Long, String> owner = new HashMap<>();
    Map<String, long[]> byOwner = new HashMap<>();
    ArrayDeque<Instance> queue = new ArrayDeque<>();
    for (Instance e : entries) {
      if (seen.add(e.getInstanceId())) {
        owner.put(e.getInstanceId(), e.getJavaClass().getName());
        queue.add(e);
      }
    }
    long total = 0;
    while (!queue.isEmpty()) {
      Instance i = queue.poll();
      String o = owner.remove(i.getInstanceId());
      long[] sum = byOwner.computeIfAbsent(o, k -> new long[2]);
      sum[0] += i.getSize();
      sum[1]++;
      total += i.getSize();
      for (Instance next : references(i)) {
        if (seen.add(next.getInstanceId())) {
          String name = next.getJavaClass().getName();
          owner.put(next.getInstanceId(), components.containsKey(name) ? name : o);
          queue.add(next);
        }
      }
    }
    List<Owner> owners = new ArrayList<>();
    byOwner.forEach((name, sum) -> owners.add(new Owner(layerOf(name), name, sum[0], sum[1])));
    owners.sort(Comparator.comparingLong(Owner::bytes).reversed());
    return new Analysis(total, owners);
  }

  /** Every object reachable from the GC roots and the classes' statics without the entries. */
  private Set<Long> reachableWithout(Set<Long> entryIds) {
    Set<Long> seen = new HashSet<>();
    ArrayDeque<Instance> queue = new ArrayDeque<>();
    for (GCRoot root : heap.getGCRoots()) {
      visit(root.getInstance(), entryIds, seen, queue);
    }
    for (JavaClass c : heap.getAllClasses()) {
      for (Object value : c.getStaticFieldValues()) {
        if (value instanceof ObjectFieldValue field) {
          visit(field.getInstance(), entryIds, seen, queue);
        }
      }
    }
    while (!queue.isEmpty()) {
      for (Instance next : references(queue.poll())) {
        visit(next, entryIds, seen, queue);
      }
    }
    return seen;
  }

  private static void visit(
      Instance i, Set<Long> entryIds, Set<Long> seen, ArrayDeque<Instance> queue) {
    if (i != null && !entryIds.contains(i.getInstanceId()) && seen.add(i.getInstanceId())) {
      queue.add(i);
    }
  }

  /**
   * The objects {@code i} refers to: its fields or its elements. Classes' statics need no following
   * here: {@link #reachableWithout} starts from all of them.
   */
  private static List<Instance> references(Instance i) {
    List<Instance> out = new ArrayList<>();
    if (i instanceof ObjectArrayInstance array) {
      for (Instance v : array.getValues()) {
        if (v != null) {
          out.add(v);
        }
      }
      return out;
    }
    for (Object value : i.getFieldValues()) {
      if (value instanceof ObjectFieldValue field && field.getInstance() != null) {
        out.add(field.getInstance());
      }
    }
    return out;
  }

  private String layerOf(String component) {
    String layer = components.get(component);
    if (layer != null) {
      return layer;
    }
    return component.startsWith("io.credbroker.") ? "broker" : layerByPackage(component);
  }

  private static String layerByPackage(String name) {
    if (name.startsWith("sun.security.ssl.")
        || name.startsWith("javax.crypto.")
        || name.startsWith("io.netty.handler.ssl.")) {
      return "TLS";
    }
    if (name.startsWith("io.netty.handler.codec.http2.") || name.startsWith("io.grpc.netty.")) {
      return "HTTP/2";
    }
    if (name.startsWith("io.grpc.")) {
      return "gRPC call";
    }
    return "channel";
  }

  private static Map<String, String> components() {
    Map<String, String> c = new HashMap<>();
    layer(
        c,
        "TLS",
        "sun.security.ssl.SSLEngineImpl",
        "sun.security.ssl.TransportContext",
        "sun.security.ssl.SSLSessionImpl",
        "sun.security.ssl.SSLEngineInputRecord",
        "sun.security.ssl.SSLEngineOutputRecord",
        "sun.security.ssl.HandshakeHash",
        "sun.security.ssl.SSLConfiguration",
        "javax.crypto.Cipher");
    layer(
        c,
        "HTTP/2",
        "io.netty.handler.codec.http2.DefaultHttp2Connection",
        "io.netty.handler.codec.http2.DefaultHttp2Connection$DefaultStream",
        "io.netty.handler.codec.http2.HpackEncoder",
        "io.netty.handler.codec.http2.HpackDecoder",
        "io.netty.handler.codec.http2.DefaultHttp2ConnectionEncoder",
        "io.netty.handler.codec.http2.DefaultHttp2ConnectionDecoder",
        "io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController",
        "io.netty.handler.codec.http2.DefaultHttp2LocalFlowController");
    layer(
        c,
        "gRPC call",
        "io.grpc.internal.MessageDeframer",
        "io.grpc.internal.MessageFramer",
        "io.grpc.internal.KeepAliveManager",
        "io.grpc.internal.ServerImpl$ServerTransportListenerImpl",
        "io.grpc.internal.ServerImpl$JumpToApplicationThreadServerStreamListener",
        "io.grpc.Context$CancellableContext",
        "io.grpc.netty.NettyServerStream",
        "io.grpc.netty.NettyServerStream$TransportState",
        "io.grpc.internal.ServerCallImpl");
    layer(c, "request headers", "io.grpc.Metadata");
    layer(
        c,
        "channel",
        "io.netty.channel.ChannelOutboundBuffer",
        "io.netty.channel.epoll.EpollSocketChannelConfig");
    return Map.copyOf(c);
  }

  private static void layer(Map<String, String> components, String layer, String... classes) {
    for (String name : classes) {
      components.put(name, layer);
    }
  }
}
