package io.credbroker.broker.grpc;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;

/** An in-process gRPC server of one service, and a channel to it. */
record InProcessGrpc(Server server, ManagedChannel channel) implements AutoCloseable {

  static InProcessGrpc serve(ServerServiceDefinition service) throws IOException {
    String name = InProcessServerBuilder.generateName();
    Server server = InProcessServerBuilder.forName(name).addService(service).build().start();
    return new InProcessGrpc(server, InProcessChannelBuilder.forName(name).build());
  }

  @Override
  public void close() {
    channel.shutdownNow();
    server.shutdownNow();
  }
}
