package io.credbroker.devstack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FreePortsTest {

  /**
   * The ports lie below the kernel's ephemeral range, where no outgoing connection takes one
   * between the check and the server's bind; each can be bound, and none is given twice.
   */
  @Test
  void portsAreFreeAndBelowTheEphemeralRange() throws IOException {
    int ephemeralStart = FreePorts.ephemeralStart();
    Set<Integer> given = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      int port = FreePorts.next();

      assertThat(port).isBetween(FreePorts.LOWEST, ephemeralStart - 1);
      assertThat(given.add(port)).as("port %d given twice", port).isTrue();
      try (ServerSocket server = new ServerSocket()) {
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      }
    }
  }

  /** A port that a server holds is passed over. */
  @Test
  void aPortInUseIsNotGiven() throws IOException {
    int port = FreePorts.next();
    try (ServerSocket held = new ServerSocket()) {
      held.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      Set<Integer> given = new HashSet<>();
      // Enough to wrap around the whole range below the ephemeral one.
      for (int i = 0; i < FreePorts.ephemeralStart() - FreePorts.LOWEST + 1; i++) {
        given.add(FreePorts.next());
      }

      assertThat(given).doesNotContain(port).isNotEmpty();
    }
  }
}
