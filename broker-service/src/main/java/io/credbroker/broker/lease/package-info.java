/**
 * Credentials and their leases: issuing a pod's PostgreSQL role from Vault, and the state store that
 * records every lease (never a password).
 */
@NullMarked
package io.credbroker.broker.lease;

import org.jspecify.annotations.NullMarked;
