/**
 * Cutting off a compromised pod or one credential: pod blocks by UID, revocation through the lease
 * lifecycle, the audit trail, and telling every replica through PostgreSQL {@code LISTEN/NOTIFY}.
 */
@NullMarked
package io.credbroker.broker.revocation;

import org.jspecify.annotations.NullMarked;
