package io.credbroker.broker.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The broker's own {@code logback-spring.xml}, loaded as Logback loads it. */
class LogbackConfigurationTest {

  @TempDir Path tmp;

  @Test
  void theBrokerLogsToStandardOutputOnlyAndWritesNoFileIntoTmp() throws Exception {
    // In the chart /tmp is a size-limited emptyDir: a log file there grows until the kubelet
    // evicts the pod.
    LoggerContext context = new LoggerContext();
    context.putProperty("java.io.tmpdir", tmp.toString());
    context.putProperty("LOG_TEMP", tmp.toString());
    JoranConfigurator configurator = new JoranConfigurator();
    configurator.setContext(context);
    URL config = getClass().getClassLoader().getResource("logback-spring.xml");
    assertThat(config).isNotNull();
    configurator.doConfigure(config);

    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    List<Appender<ILoggingEvent>> appenders = new ArrayList<>();
    for (Iterator<Appender<ILoggingEvent>> it = root.iteratorForAppenders(); it.hasNext(); ) {
      appenders.add(it.next());
    }
    boolean wireLoggersFiltered =
        context.getTurboFilterList().stream().anyMatch(WireLoggersFilter.class::isInstance);
    root.info("a line");
    context.stop();

    assertThat(appenders).hasSize(1).first().isInstanceOf(ConsoleAppender.class);
    assertThat(appenders).noneMatch(FileAppender.class::isInstance);
    assertThat(wireLoggersFiltered).isTrue();
    try (var files = Files.list(tmp)) {
      assertThat(files).isEmpty();
    }
  }
}
