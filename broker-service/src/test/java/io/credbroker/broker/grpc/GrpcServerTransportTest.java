package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.Mockito.mock;

import org.junit.jupiter.api.Test;
import org.springframework.grpc.server.InProcessGrpcServerFactory;
import org.springframework.grpc.server.NettyGrpcServerFactory;

/**
 * The broker starts only on grpc-netty's server, whose builder its connection settings customize.
 * That the settings reach the wire is {@code LimitsIT}'s to show.
 */
class GrpcServerTransportTest {

  @Test
  void grpcNettysServerIsAccepted() {
    assertThatCode(() -> GrpcConfiguration.requireGrpcNetty(mock(NettyGrpcServerFactory.class)))
        .doesNotThrowAnyException();
  }

  @Test
  void anyOtherServerStopsTheBrokerFromStarting() {
    assertThatThrownBy(
            () -> GrpcConfiguration.requireGrpcNetty(mock(InProcessGrpcServerFactory.class)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("grpc-netty-shaded");
  }
}
