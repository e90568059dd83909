/**
 * The pod-facing gRPC API: translates {@code credbroker.v1} calls to the domain and back, maps
 * every failure to a status in one place, and keeps {@code WatchCredential} streams alive.
 */
@NullMarked
package io.credbroker.broker.grpc;

import org.jspecify.annotations.NullMarked;
