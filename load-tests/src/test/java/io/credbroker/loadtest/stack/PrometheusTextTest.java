package io.credbroker.loadtest.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PrometheusTextTest {

  private static final String SCRAPE =
      """
      # HELP credbroker_tokenreview_request_seconds TokenReview calls to the Kubernetes API
      # TYPE credbroker_tokenreview_request_seconds histogram
      credbroker_tokenreview_request_seconds_count{application="credential-broker",outcome="authenticated"} 12
      credbroker_tokenreview_request_seconds_count{application="credential-broker",outcome="rejected"} 3
      credbroker_tokenreview_cache_total{application="credential-broker",result="hit"} 40.0
      jvm_memory_used_bytes{area="heap",id="G1 Eden Space"} 1.048576E7
      jvm_memory_used_bytes{area="heap",id="G1 Old Gen"} 2.0E7
      jvm_memory_used_bytes{area="nonheap",id="Metaspace"} 9.9E7
      odd_label{path="a \\"quoted\\", value",le="+Inf"} NaN
      jvm_threads_live_threads 49 1700000000000
      """;

  @Test
  void sumsSamplesWhoseLabelsMatch() {
    PrometheusText text = PrometheusText.parse(SCRAPE);

    assertThat(text.sum("credbroker_tokenreview_request_seconds_count")).isEqualTo(15);
    assertThat(text.sum("credbroker_tokenreview_request_seconds_count", "outcome", "rejected"))
        .isEqualTo(3);
    assertThat(text.sum("jvm_memory_used_bytes", "area", "heap")).isEqualTo(30_485_760);
    assertThat(text.sum("jvm_threads_live_threads")).isEqualTo(49);
  }

  @Test
  void aMissingMetricSumsToZeroAndIsReportedAbsent() {
    PrometheusText text = PrometheusText.parse(SCRAPE);

    assertThat(text.sum("credbroker_streams_active")).isZero();
    assertThat(text.has("credbroker_streams_active")).isFalse();
    assertThat(text.has("credbroker_tokenreview_cache_total")).isTrue();
  }

  @Test
  void quotedLabelValuesMayHoldCommasAndQuotes() {
    PrometheusText text = PrometheusText.parse(SCRAPE);

    assertThat(text.samples())
        .anySatisfy(
            s -> {
              assertThat(s.name()).isEqualTo("odd_label");
              assertThat(s.labels())
                  .containsEntry("path", "a \"quoted\", value")
                  .containsEntry("le", "+Inf");
              assertThat(s.value()).isNaN();
            });
  }

  @Test
  void aMalformedLineIsRefused() {
    assertThatThrownBy(() -> PrometheusText.parse("metric{a=\"b\" 1"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PrometheusText.parse("metric notanumber"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a sample value");
  }

  @Test
  void aQuantileBetweenTwoScrapesCountsOnlyWhatWasObservedInBetween() {
    PrometheusText before =
        PrometheusText.parse(
            """
        t_seconds_bucket{op="creds",le="0.005"} 10
        t_seconds_bucket{op="creds",le="0.01"} 10
        t_seconds_bucket{op="creds",le="0.02"} 10
        t_seconds_bucket{op="creds",le="+Inf"} 10
        t_seconds_bucket{op="renew",le="0.005"} 99
        t_seconds_bucket{op="renew",le="+Inf"} 99
        """);
    PrometheusText after =
        PrometheusText.parse(
            """
        t_seconds_bucket{op="creds",le="0.005"} 10
        t_seconds_bucket{op="creds",le="0.01"} 20
        t_seconds_bucket{op="creds",le="0.02"} 30
        t_seconds_bucket{op="creds",le="+Inf"} 30
        t_seconds_bucket{op="renew",le="0.005"} 500
        t_seconds_bucket{op="renew",le="+Inf"} 500
        """);

    // 20 new observations, 10 in (5, 10] ms and 10 in (10, 20] ms: the median is the 10 ms bound.
    assertThat(
            PrometheusText.quantileBetween(before, after, "t_seconds_bucket", 0.5, "op", "creds"))
        .isEqualTo(0.01);
    assertThat(
            PrometheusText.quantileBetween(before, after, "t_seconds_bucket", 0.75, "op", "creds"))
        .isEqualTo(0.015);
    assertThat(PrometheusText.quantileBetween(after, after, "t_seconds_bucket", 0.5, "op", "creds"))
        .isNaN();
  }
}
