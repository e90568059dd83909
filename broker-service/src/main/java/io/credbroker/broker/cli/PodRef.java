package io.credbroker.broker.cli;

import org.jspecify.annotations.Nullable;

/** A pod as typed: {@code namespace/pod}, or {@code pod} with {@code -n namespace}. */
record PodRef(String namespace, String name) {

  static PodRef of(String pod, @Nullable String namespace) {
    int slash = pod.indexOf('/');
    if (slash > 0 && slash < pod.length() - 1) {
      String ns = pod.substring(0, slash);
      if (namespace != null && !namespace.equals(ns)) {
        throw new CliException("pod " + pod + " is not in namespace " + namespace);
      }
      return new PodRef(ns, pod.substring(slash + 1));
    }
    if (namespace == null || slash >= 0) {
      throw new CliException("name the pod as <namespace>/<pod>, or give -n <namespace>");
    }
    return new PodRef(namespace, pod);
  }

  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
