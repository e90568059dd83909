package io.credbroker.loadtest.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PrometheusTextTest {

  private static final String SCRAPE = """
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
    assertThat(text.sum("credbroker_tokenreview_request_seconds_count", "outcome", "rejected")).isEqualTo(3);
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

    assertThat(text.samples()).anySatisfy(s -> {
      assertThat(s.name()).isEqualTo("odd_label");
      assertThat(s.labels()).containsEntry("path", "a \"quoted\", value").containsEntry("le", "+Inf");
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
}
