/**
 * This process's identity among the broker replicas that share one state database, its heartbeat,
 * and the takeover of the credentials of replicas that stopped or went silent.
 */
@NullMarked
package io.credbroker.broker.cluster;

import org.jspecify.annotations.NullMarked;
