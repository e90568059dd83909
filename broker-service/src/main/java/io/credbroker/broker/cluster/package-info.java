/** This process's identity among the broker replicas that share one state database. */
@NullMarked
package io.credbroker.broker.cluster;

import org.jspecify.annotations.NullMarked;
