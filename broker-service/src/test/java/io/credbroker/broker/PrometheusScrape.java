package io.credbroker.broker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reading samples out of a broker's Prometheus scrape ({@code /actuator/prometheus}). */
final class PrometheusScrape {

  private PrometheusScrape() {}

  /**
   * The value of the one series of gauge {@code name} in {@code scrape}; fails when it has none.
   */
  static double gauge(String scrape, String name) {
    Matcher sample = Pattern.compile("(?m)^" + name + "\\{[^}]*} (\\S+)$").matcher(scrape);
    assertThat(sample.find()).as("a sample of %s", name).isTrue();
    return Double.parseDouble(sample.group(1));
  }
}
