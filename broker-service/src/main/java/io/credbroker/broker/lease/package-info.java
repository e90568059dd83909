/**
 * Credentials and their leases through their whole life: issuing a pod's PostgreSQL role from
 * Vault, renewing, rotating, resuming and ending it on one shared scheduler, the persisted
 * revocation retry queue, and the state store that records every lease (never a password).
 */
@NullMarked
package io.credbroker.broker.lease;

import org.jspecify.annotations.NullMarked;
