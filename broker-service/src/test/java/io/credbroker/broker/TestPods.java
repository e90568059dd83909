package io.credbroker.broker;

import io.credbroker.devstack.kubernetes.KubernetesApiServer;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The application pods of an integration test on the dev-stack's Kubernetes: each {@link #create}
 * makes a new pod of the service account {@code public/application}, named after the test's prefix
 * and a counter, and {@link #token} is what such a pod presents to the broker (a projected token
 * for the audience {@code credbroker}).
 */
final class TestPods {

  static final String AUDIENCE = "credbroker";
  private static final Duration TOKEN_TTL = Duration.ofMinutes(10);

  private final KubernetesApiServer kubernetes;
  private final String prefix;
  private final AtomicInteger count = new AtomicInteger();

  TestPods(KubernetesApiServer kubernetes, String prefix) {
    this.kubernetes = Objects.requireNonNull(kubernetes, "kubernetes");
    this.prefix = Objects.requireNonNull(prefix, "prefix");
  }

  /** Creates a new pod and returns its name. */
  String create() {
    String name = nextName();
    kubernetes.createPod("public", name, "application");
    return name;
  }

  /** A name no pod of this test has had, for a test that creates the pod itself. */
  String nextName() {
    return prefix + count.incrementAndGet();
  }

  /** A token of the pod, valid for 10 minutes. */
  String token(String pod) {
    return token(pod, TOKEN_TTL);
  }

  /** A token of the pod, valid for {@code ttl}. */
  String token(String pod, Duration ttl) {
    return kubernetes.issueToken("public", "application", pod, List.of(AUDIENCE), ttl);
  }
}
