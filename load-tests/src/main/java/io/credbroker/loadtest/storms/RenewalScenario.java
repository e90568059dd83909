package io.credbroker.loadtest.storms;

import io.credbroker.loadtest.stack.BrokerProcess;
import io.credbroker.loadtest.stack.LoadStack;
import io.grpc.ManagedChannel;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Renewal steady state: {@code credentials} pods each hold a streamed credential whose TTL is short
 * (the stack's {@code --ttl}), so the replicas renew them continuously against a Vault that
 * serialises renewals on its one database connection. Over {@code measure} it reads the renewals
 * the replicas completed per second against the rate the credentials need, and once a second the
 * renewal lag from the state database: how long ago the most overdue live credential was due
 * ({@code renewal_due_time}), and how many were overdue.
 *
 * <p>One instance per run; {@link #run} blocks until the run and its cleanup are done.
 */
public final class RenewalScenario extends StormScenario {

  /**
   * Renewal due at this fraction of the TTL (the broker's default {@code lease.renewal-fraction}).
   */
  static final double RENEWAL_FRACTION = 0.66;

  /**
   * @param credentials live credentials, one pod and stream each
   * @param connectionsPerReplica TCP connections to each replica the pods share
   * @param openConcurrency pods waiting for their first credential at once while opening
   * @param measure how long the steady state is observed
   * @param ceilingSamples direct Vault renewals that measure the ceiling
   * @param maxDuration how long opening may take
   */
  public record Options(
      int credentials,
      int connectionsPerReplica,
      int openConcurrency,
      Duration measure,
      int ceilingSamples,
      Duration maxDuration) {
    public Options {
      if (credentials < 1 || credentials > 100_000) {
        throw new IllegalArgumentException(
            "credentials must be between 1 and 100000, was " + credentials);
      }
      if (connectionsPerReplica < 1 || openConcurrency < 1 || ceilingSamples < 1) {
        throw new IllegalArgumentException(
            "connections, open concurrency and ceiling samples must be positive");
      }
      if (measure.isNegative() || measure.isZero()) {
        throw new IllegalArgumentException("the measuring time must be positive");
      }
    }
  }

  /** The renewal rate {@code credentials} with this TTL need, per second. */
  static double demandPerSecond(int credentials, Duration ttl) {
    return credentials / (ttl.toMillis() / 1000.0 * RENEWAL_FRACTION);
  }

  /** One look at the state database. */
  record LagSample(long live, long overdue, double oldestOverdueSeconds, long expired) {}

  private final Options options;

  public RenewalScenario(LoadStack stack, Options options, PrintStream progress) {
    super(stack, progress);
    this.options = options;
  }

  @Override
  public StormReport run() {
    List<BrokerProcess> replicas = stack.brokers();
    Duration ttl = stack.settings().credentialTtl();
    progress.printf(
        "renewals: measuring Vault's renewal ceiling with %d direct renewals%n",
        options.ceilingSamples());
    VaultCeiling.Creations leases = VaultCeiling.creations(stack.vault(), 20);
    double ceiling =
        VaultCeiling.renewals(
            stack.vault(), leases.leaseIds(), options.ceilingSamples(), ttl.toSeconds());
    VaultCeiling.revoke(stack.vault(), leases.leaseIds());

    List<ManagedChannel> channels = new ArrayList<>();
    try (StormPods pods =
        StormPods.create(
            stack,
            "renewal",
            options.credentials(),
            stack.settings().workDir().resolve("tokens"))) {
      channels.addAll(connectionsToEachReplica(options.connectionsPerReplica()));
      progress.printf("renewals: opening %d streams%n", options.credentials());
      long openStart = System.nanoTime();
      boolean opened =
          pods.openAll(
              i -> channels.get(i % channels.size()),
              options.openConcurrency(),
              options.maxDuration(),
              n ->
                  progress.printf(
                      "renewals: %d of %d streams hold a credential%n", n, options.credentials()));
      double openSeconds = StormReport.seconds(System.nanoTime() - openStart);

      progress.printf("renewals: observing the steady state for %s%n", options.measure());
      ReplicaMetrics before = ReplicaMetrics.of(replicas);
      long clientRenewalsBefore = pods.renewalEvents();
      long t0 = System.nanoTime();
      long end = t0 + options.measure().toNanos();
      List<LagSample> samples = new ArrayList<>();
      while (System.nanoTime() < end) {
        samples.add(lag());
        BrokerProcess.pause(Duration.ofSeconds(1));
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      ReplicaMetrics after = ReplicaMetrics.of(replicas);
      long clientRenewals = pods.renewalEvents() - clientRenewalsBefore;
      double renewed =
          after.get("renewals_renewed")
              - before.get("renewals_renewed")
              + after.get("renewals_capped")
              - before.get("renewals_capped");
      double demand = demandPerSecond(options.credentials(), ttl);
      StormReport.Builder r =
          new StormReport.Builder("renewals")
              .put("credentials", options.credentials())
              .put("replicas", replicas.size())
              .put("ttl_s", ttl.toSeconds())
              .put("all_opened", opened)
              .put("open_s", openSeconds)
              .put("pods_holding", pods.pods().stream().filter(StormPods.PodState::holds).count())
              .put("measured_s", StormReport.round3(seconds))
              .put("vault_ceiling_renewals_per_s", ceiling)
              .put("needed_renewals_per_s", StormReport.round3(demand))
              .ratio("needed_vs_vault_ceiling_ratio", demand, ceiling)
              .put("broker_renewals_per_s", StormReport.round3(renewed / seconds))
              .ratio("broker_renewals_vs_needed_ratio", renewed / seconds, demand)
              .ratio("broker_renewals_vs_vault_ceiling_ratio", renewed / seconds, ceiling)
              .put("client_renewal_events_per_s", StormReport.round3(clientRenewals / seconds))
              .put(
                  "max_renewal_lag_s",
                  StormReport.round3(
                      samples.stream()
                          .mapToDouble(LagSample::oldestOverdueSeconds)
                          .max()
                          .orElse(0)))
              .put(
                  "mean_renewal_lag_s",
                  StormReport.round3(
                      samples.stream()
                          .mapToDouble(LagSample::oldestOverdueSeconds)
                          .average()
                          .orElse(0)))
              .put(
                  "max_overdue_credentials",
                  samples.stream().mapToLong(LagSample::overdue).max().orElse(0))
              .put(
                  "max_expired_live_credentials",
                  samples.stream().mapToLong(LagSample::expired).max().orElse(0))
              .put("lag_samples", samples.size())
              .put("stream_statuses", pods.statuses())
              .put("credential_sources", pods.sources())
              .put("pods_stopped", pods.stopped())
              .put("broker_counters", after.since(before));
      r.put("cleanup", releaseAll(pods, options.maxDuration()));
      return r.build();
    } finally {
      channels.forEach(ManagedChannel::shutdownNow);
    }
  }

  /** Overdue and expired live stream credentials in the state database, now. */
  private LagSample lag() {
    try (Connection c = stack.devStack().postgres().connect("credbroker");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(LAG_QUERY)) {
      rs.next();
      return new LagSample(rs.getLong(1), rs.getLong(2), rs.getDouble(3), rs.getLong(4));
    } catch (SQLException e) {
      throw new IllegalStateException("cannot read the renewal lag: " + e.getMessage(), e);
    }
  }

  static final String LAG_QUERY =
      "SELECT count(*),"
          + " count(*) FILTER (WHERE renewal_due_time < now()),"
          + " COALESCE(EXTRACT(EPOCH FROM now() - min(renewal_due_time)"
          + "   FILTER (WHERE renewal_due_time < now())), 0),"
          + " count(*) FILTER (WHERE expire_time < now())"
          + " FROM credential WHERE state = 'ACTIVE' AND kind = 'STREAM'";
}
