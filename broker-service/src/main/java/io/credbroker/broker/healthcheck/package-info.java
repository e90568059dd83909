/**
 * {@code health-check}: the image's own client of the gRPC health service, for {@code helm test}
 * and for probing a broker from a shell where no grpcurl is installed.
 */
@NullMarked
package io.credbroker.broker.healthcheck;

import org.jspecify.annotations.NullMarked;
