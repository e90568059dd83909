package io.credbroker.broker.pods;

import io.credbroker.broker.DaemonThreads;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.cluster.ReplicaId;
import io.credbroker.broker.lease.CredentialQueries;
import io.credbroker.broker.lease.PodDepartures;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.ReducedStateItemStore;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessException;

/**
 * One fabric8 informer of the cluster's pods, shared by every stream and credential of this
 * replica: a deleted pod is handed to {@link PodDepartures}, which ends its streams and its
 * credentials.
 *
 * <p>Two ways to notice, so that a deletion is noticed within {@code checkInterval} at the latest:
 *
 * <ul>
 *   <li>a DELETED event, or a pod gone when the informer lists again (after a 410 Gone, fabric8
 *       re-lists and reports what vanished meanwhile), is acted on at once;
 *   <li>every {@code checkInterval}, the pods of this replica's live credentials are looked for in
 *       the informer's cache by namespace and name, and must have the same UID. A pod missing there
 *       (or with another UID) is looked up in the API first, since the cache may lag behind a pod
 *       created a moment ago; only a lookup that finds it absent or replaced counts.
 * </ul>
 *
 * <p>Fail safe for availability: while the informer is not in sync (Kubernetes unreachable, RBAC
 * missing) the check is skipped and nothing is revoked for a pod that is merely not in the cache; a
 * lookup that fails counts for nothing. The outage is logged when it starts and ends, and the gauge
 * {@code credbroker.kubernetes.pod_watch.synced} is 0 meanwhile.
 *
 * <p>What the watch keeps of each pod is only what these checks read: its namespace and name (the
 * key), UID, service account and resource version (fabric8's {@link ReducedStateItemStore}). Every
 * replica watches every pod of the cluster, whether or not it uses the broker, so a whole {@code
 * Pod} per pod (its containers, environment, volumes, status and managed fields) would cost each
 * replica kilobytes per pod of the cluster.
 *
 * <p>Events arrive on fabric8's informer thread; acting on them (state database writes) and the
 * periodic check run on one thread of this class, so a slow database never stalls the informer.
 * Lifecycle: started and stopped by Spring. Thread-safe.
 */
public final class PodWatch implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(PodWatch.class);

  private final KubernetesClient client;
  private final PodDepartures departures;
  private final CredentialQueries credentials;
  private final String replica;
  private final Duration checkInterval;
  private final MeterRegistry meterRegistry;

  private volatile @Nullable SharedIndexInformer<Pod> informer;
  private volatile @Nullable ReducedStateItemStore<Pod> store;
  private volatile @Nullable ScheduledExecutorService worker;
  private volatile boolean reportedOutOfSync;

  public PodWatch(
      KubernetesClient client,
      PodDepartures departures,
      CredentialQueries credentials,
      ReplicaId replicaId,
      Duration checkInterval,
      MeterRegistry meterRegistry) {
    this.client = Objects.requireNonNull(client, "client");
    this.departures = Objects.requireNonNull(departures, "departures");
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    this.replica = replicaId.value();
    this.checkInterval = Objects.requireNonNull(checkInterval, "checkInterval");
    if (checkInterval.isNegative() || checkInterval.isZero()) {
      throw new IllegalArgumentException(
          "credbroker.kubernetes.pod-watch.check-interval must be positive");
    }
    this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
  }

  @Override
  public synchronized void start() {
    if (informer != null) {
      return;
    }
    ScheduledThreadPoolExecutor executor =
        new ScheduledThreadPoolExecutor(1, DaemonThreads.named("pod-watch"));
    executor.setRemoveOnCancelPolicy(true);
    worker = executor;
    SharedIndexInformer<Pod> podInformer = client.pods().inAnyNamespace().runnableInformer(0);
    ReducedStateItemStore<Pod> podStore =
        new ReducedStateItemStore<>(
            ReducedStateItemStore.NAME_KEY_STATE,
            Pod.class,
            client.getKubernetesSerialization(),
            "metadata.uid",
            "spec.serviceAccountName");
    podInformer.itemStore(podStore);
    store = podStore;
    podInformer.addEventHandler(new Handler());
    // Keep listing and watching whatever fails: an API server outage must not end the watch for
    // good.
    podInformer.exceptionHandler(
        (started, failure) -> {
          log.debug("Pod watch failed; trying again", failure);
          return true;
        });
    informer = podInformer;
    Gauge.builder("credbroker.kubernetes.pod_watch.synced", this, w -> w.inSync() ? 1 : 0)
        .description("1 while the shared watch of pods is listed and watching, 0 otherwise")
        .register(meterRegistry);
    Gauge.builder("credbroker.kubernetes.pod_watch.pods", this, PodWatch::cachedPods)
        .description(
            "Pods of the cluster this replica's watch holds (UID and service account each)")
        .register(meterRegistry);
    podInformer.start();
    long millis = checkInterval.toMillis();
    executor.scheduleWithFixedDelay(this::check, millis, millis, TimeUnit.MILLISECONDS);
    log.info("Watching pods in all namespaces; deletions noticed within {}", checkInterval);
  }

  @Override
  public synchronized void stop() {
    SharedIndexInformer<Pod> podInformer = informer;
    if (podInformer != null) {
      podInformer.close();
      informer = null;
      store = null;
    }
    ScheduledExecutorService executor = worker;
    if (executor != null) {
      executor.shutdownNow();
      worker = null;
    }
  }

  @Override
  public boolean isRunning() {
    return informer != null;
  }

  /** How many pods the watch holds now; 0 while it is stopped. */
  int cachedPods() {
    ReducedStateItemStore<Pod> podStore = store;
    return podStore == null ? 0 : podStore.size();
  }

  /**
   * What the watch holds of one pod, or {@code null} when it holds nothing under that name: its
   * name, namespace, UID, service account and resource version, nothing else. For diagnostics and
   * tests.
   */
  public @Nullable Pod cached(String namespace, String name) {
    SharedIndexInformer<Pod> podInformer = informer;
    return podInformer == null ? null : podInformer.getStore().getByKey(namespace + "/" + name);
  }

  /** Whether the informer has listed the pods and is watching them now. */
  public boolean inSync() {
    SharedIndexInformer<Pod> podInformer = informer;
    return podInformer != null && podInformer.hasSynced() && podInformer.isWatching();
  }

  /**
   * Checks the pods of this replica's live credentials once (what runs every {@code
   * checkInterval}). Skipped while the informer is not in sync.
   */
  void check() {
    try {
      SharedIndexInformer<Pod> podInformer = informer;
      if (podInformer == null) {
        return;
      }
      if (!inSync()) {
        if (!reportedOutOfSync) {
          reportedOutOfSync = true;
          log.warn(
              "The watch of pods is not in sync with Kubernetes; no credential is revoked for a"
                  + " missing pod until it is");
        }
        return;
      }
      if (reportedOutOfSync) {
        reportedOutOfSync = false;
        log.info("The watch of pods is in sync with Kubernetes again");
      }
      for (PodIdentity pod : credentials.podsServedBy(replica)) {
        String uid = Objects.requireNonNull(pod.podUid());
        Pod cached = cached(pod.namespace(), pod.podName());
        if (cached != null && uid.equals(cached.getMetadata().getUid())) {
          continue;
        }
        if (goneInApi(pod)) {
          departures.departed(pod, PodDepartures.Cause.ABSENT);
        }
      }
    } catch (DataAccessException e) {
      log.warn("Checking the pods of live credentials failed: the state store is unavailable");
    } catch (RuntimeException e) {
      log.warn("Checking the pods of live credentials failed", e);
    }
  }

  /** Looks the pod up: absent or with another UID means gone; a failed lookup proves nothing. */
  private boolean goneInApi(PodIdentity pod) {
    try {
      Pod live = client.pods().inNamespace(pod.namespace()).withName(pod.podName()).get();
      return live == null || !Objects.equals(pod.podUid(), live.getMetadata().getUid());
    } catch (KubernetesClientException e) {
      log.debug("Looking up pod {}/{} failed", pod.namespace(), pod.podName(), e);
      return false;
    }
  }

  private void departed(Pod pod, PodDepartures.Cause cause) {
    var metadata = pod.getMetadata();
    if (metadata == null || metadata.getUid() == null || metadata.getName() == null) {
      return;
    }
    String serviceAccount =
        pod.getSpec() == null || pod.getSpec().getServiceAccountName() == null
            ? "default"
            : pod.getSpec().getServiceAccountName();
    PodIdentity identity =
        new PodIdentity(
            metadata.getNamespace(), serviceAccount, metadata.getName(), metadata.getUid());
    ScheduledExecutorService executor = worker;
    if (executor == null) {
      return;
    }
    try {
      executor.execute(
          () -> {
            try {
              departures.departed(identity, cause);
            } catch (DataAccessException e) {
              // The periodic check finds the pod gone once the state store is back.
              log.warn(
                  "Pod {}/{} was deleted, but the state store is unavailable; its credentials are"
                      + " ended at the next check",
                  identity.namespace(),
                  identity.podName());
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Stopping.
    }
  }

  private final class Handler implements ResourceEventHandler<Pod> {
    @Override
    public void onAdd(Pod pod) {}

    @Override
    public void onUpdate(Pod oldPod, Pod newPod) {}

    @Override
    public void onDelete(Pod pod, boolean deletedFinalStateUnknown) {
      departed(
          pod, deletedFinalStateUnknown ? PodDepartures.Cause.ABSENT : PodDepartures.Cause.DELETED);
    }
  }
}
