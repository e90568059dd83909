package io.credbroker.devstack;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Free loopback TCP ports for servers that are given their port as a number (a broker started as
 * another process, embedded PostgreSQL), so that a port cannot be picked by binding to port 0.
 *
 * <p>A port found by binding to 0 and closing the socket comes from the kernel's ephemeral range
 * ({@code net.ipv4.ip_local_port_range}), which is also where every outgoing connection on the
 * machine gets its local port. Between the probe and the server's bind, any client connection may
 * take that port, and the server fails to start with "Address already in use". The ports given here
 * lie below the ephemeral range, which the kernel never hands out by itself, so only a process that
 * asks for the same number can take one in between. Each is checked to be free on the loopback
 * interface when it is given, and one JVM never gives the same port twice in a row.
 *
 * <p>Thread-safe.
 */
public final class FreePorts {

  /** The lowest port given; the range below the ephemeral one starts here. */
  static final int LOWEST = 20_000;

  /** The ephemeral range's start when the kernel does not say (Linux's default). */
  private static final int DEFAULT_EPHEMERAL_START = 32_768;

  private static final Path EPHEMERAL_RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

  /** The next port to try; starts at a random place so that JVMs run one after another differ. */
  private static final AtomicInteger next =
      new AtomicInteger(LOWEST + ThreadLocalRandom.current().nextInt(10_000));

  private FreePorts() {}

  /**
   * A loopback port that is free now and below the kernel's ephemeral range; when that range leaves
   * no room below it, a port the kernel picks (with the race described above).
   *
   * @throws UncheckedIOException when no port can be found at all
   */
  public static int next() {
    int end = ephemeralStart();
    if (end - LOWEST >= 1_000) {
      for (int tried = 0; tried < end - LOWEST; tried++) {
        int port = next.getAndUpdate(p -> p + 1 >= end ? LOWEST : p + 1);
        if (port >= LOWEST && port < end && isFree(port)) {
          return port;
        }
      }
    }
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free port", e);
    }
  }

  /** The first port of the kernel's ephemeral range. */
  static int ephemeralStart() {
    // One read with a large buffer: a sysctl file answers a read at a later offset with nothing,
    // so reading it in small pieces (as Files.readString does with a file that reports no size)
    // returns only its first byte.
    try (BufferedReader reader = Files.newBufferedReader(EPHEMERAL_RANGE)) {
      String line = reader.readLine();
      return Integer.parseInt(line.trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      // Not Linux, or not readable: the common defaults (Linux 32768, others 49152) start higher.
      return DEFAULT_EPHEMERAL_START;
    }
  }

  private static boolean isFree(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
