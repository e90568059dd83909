package io.credbroker.broker.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class WireLoggersFilterTest {

  private final LoggerContext context = new LoggerContext();
  private final ListAppender<ILoggingEvent> appended = new ListAppender<>();

  @BeforeEach
  void configure() {
    WireLoggersFilter filter = new WireLoggersFilter();
    filter.setContext(context);
    filter.start();
    context.addTurboFilter(filter);
    appended.setContext(context);
    appended.start();
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.DEBUG);
    root.addAppender(appended);
  }

  @Test
  void wireAndHeaderLoggersAtDebugLogNothingBelowInfo() {
    Logger wire = context.getLogger("org.apache.hc.client5.http.wire");
    wire.setLevel(Level.TRACE);
    Logger headers = context.getLogger("org.apache.hc.client5.http.headers");
    Logger frames = context.getLogger("io.grpc.netty.NettyServerHandler");

    wire.debug("http-outgoing-0 >> \"X-Vault-Token: hvs.secret\"");
    wire.trace("bytes");
    headers.debug("http-outgoing-0 >> X-Vault-Token: hvs.secret");
    frames.debug("INBOUND HEADERS: authorization: Bearer eyJ...");

    assertThat(appended.list).isEmpty();
    assertThat(wire.isDebugEnabled()).isFalse();
  }

  @Test
  void wireLoggersStillReportProblemsAtInfoAndAbove() {
    context.getLogger("org.apache.hc.client5.http.wire").warn("connection reset");

    assertThat(appended.list)
        .extracting(ILoggingEvent::getFormattedMessage)
        .containsExactly("connection reset");
  }

  @Test
  void restTemplateKeepsItsDebugLinesButTheRequestBody() {
    Logger rest = context.getLogger("org.springframework.web.client.RestTemplate");

    rest.debug("HTTP POST http://127.0.0.1:8200/v1/auth/kubernetes/login");
    rest.debug(
        "Writing [{role=credential-broker, jwt=eyJhbGciOiJSUzI1NiJ9.e30.c2ln}] as \"application/json\"");
    rest.debug("Response 200 OK");

    assertThat(appended.list)
        .extracting(ILoggingEvent::getFormattedMessage)
        .containsExactly(
            "HTTP POST http://127.0.0.1:8200/v1/auth/kubernetes/login", "Response 200 OK");
  }

  @Test
  void otherLoggersOfTheSameLibrariesKeepTheirDebugOutput() {
    context
        .getLogger("org.apache.hc.client5.http.impl.classic.InternalHttpClient")
        .debug("executing");
    context.getLogger("io.grpc.netty.NettyServerHandlerExtra").debug("not a frame logger");
    context.getLogger("io.grpc.internal.ServerImpl").debug("call started");

    assertThat(appended.list).hasSize(3);
  }
}
