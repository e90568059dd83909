/**
 * Transport security of the broker's own servers: the serving key and certificate, shared by the
 * gRPC API and the admin API, and followed when the files behind them are renewed.
 */
@NullMarked
package io.credbroker.broker.tls;

import org.jspecify.annotations.NullMarked;
