/**
 * The network between a client and a server: a TCP proxy that passes, holds or resets traffic, to
 * put a partition or an unreachable database between the broker and what it depends on; and a
 * Kubernetes Service stand-in that sends each new connection to an endpoint whose readiness probe
 * passes, as kube-proxy and the kubelet do.
 */
@NullMarked
package io.credbroker.devstack.network;

import org.jspecify.annotations.NullMarked;
