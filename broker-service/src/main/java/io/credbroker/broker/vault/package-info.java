/**
 * The only code that talks to Vault: database credentials and their leases, each call behind a
 * circuit breaker, a bulkhead and a time limit.
 */
@NullMarked
package io.credbroker.broker.vault;

import org.jspecify.annotations.NullMarked;
