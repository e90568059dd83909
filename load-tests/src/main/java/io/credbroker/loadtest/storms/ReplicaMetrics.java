package io.credbroker.loadtest.storms;

import io.credbroker.loadtest.stack.BrokerProcess;
import io.credbroker.loadtest.stack.PrometheusText;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The broker counters a storm reads, summed over a set of replicas at one moment, so that two
 * snapshots give what the replicas did in between. Immutable.
 */
record ReplicaMetrics(Map<String, Double> values) {

  /** Counter name and label pairs, by the name the report uses. */
  private static final Map<String, String[]> READ =
      Map.ofEntries(
          Map.entry("shed_at_admission", new String[] {"credbroker_grpc_calls_shed_total"}),
          Map.entry("token_reviews", new String[] {"credbroker_tokenreview_request_seconds_count"}),
          Map.entry(
              "vault_creds_ok",
              new String[] {
                "credbroker_vault_request_seconds_count", "operation", "creds", "outcome", "success"
              }),
          Map.entry(
              "vault_creds_timeout",
              new String[] {
                "credbroker_vault_request_seconds_count", "operation", "creds", "outcome", "timeout"
              }),
          Map.entry(
              "vault_bulkhead_full",
              new String[] {"credbroker_vault_request_seconds_count", "outcome", "bulkhead_full"}),
          Map.entry(
              "vault_renew_ok",
              new String[] {
                "credbroker_vault_request_seconds_count", "operation", "renew", "outcome", "success"
              }),
          Map.entry(
              "renewals_renewed",
              new String[] {"credbroker_lease_renewals_total", "outcome", "renewed"}),
          Map.entry(
              "renewals_capped",
              new String[] {"credbroker_lease_renewals_total", "outcome", "capped"}),
          Map.entry(
              "renewals_failed",
              new String[] {"credbroker_lease_renewals_total", "outcome", "failed"}),
          Map.entry(
              "renewals_refused",
              new String[] {"credbroker_lease_renewals_total", "outcome", "refused"}),
          Map.entry(
              "renewals_expired",
              new String[] {"credbroker_lease_renewals_total", "outcome", "expired"}),
          Map.entry(
              "vault_renew_rejected",
              new String[] {
                "credbroker_vault_request_seconds_count",
                "operation",
                "renew",
                "outcome",
                "rejected"
              }),
          Map.entry(
              "revoked_release",
              new String[] {
                "credbroker_lease_revocations_total", "trigger", "release", "outcome", "revoked"
              }),
          Map.entry(
              "revoked_pod_deleted",
              new String[] {
                "credbroker_lease_revocations_total", "trigger", "pod_deleted", "outcome", "revoked"
              }),
          Map.entry(
              "revocations_queued",
              new String[] {"credbroker_lease_revocations_total", "outcome", "queued"}),
          Map.entry("streams_active", new String[] {"credbroker_streams_active"}));

  static ReplicaMetrics of(List<BrokerProcess> replicas) {
    Map<String, Double> values = new TreeMap<>();
    for (BrokerProcess b : replicas) {
      read(b.scrape()).forEach((k, v) -> values.merge(k, v, Double::sum));
    }
    return new ReplicaMetrics(values);
  }

  static Map<String, Double> read(PrometheusText scrape) {
    Map<String, Double> values = new TreeMap<>();
    READ.forEach(
        (key, spec) -> {
          String[] labels = java.util.Arrays.copyOfRange(spec, 1, spec.length);
          values.put(key, scrape.sum(spec[0], labels));
        });
    return values;
  }

  double get(String key) {
    return values.getOrDefault(key, 0.0);
  }

  /**
   * What happened between {@code before} and this snapshot, counter by counter, as whole counts.
   */
  Map<String, Long> since(ReplicaMetrics before) {
    Map<String, Long> out = new TreeMap<>();
    values.forEach((k, v) -> out.put(k, Math.round(v - before.get(k))));
    return out;
  }
}
