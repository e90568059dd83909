/**
 * Cutting off a compromised pod or one credential: pod blocks by UID, revocation through the lease
 * lifecycle, the audit trail, and telling every replica through PostgreSQL {@code LISTEN/NOTIFY}.
 *
 * <p>This package says who asked for a revocation and tells the other replicas; how a credential
 * ends (the trigger, the synchronous Vault call, the persisted retry queue, the signal to its
 * stream) is the lease package's (see its package documentation, "Vocabulary"). Its own types are
 * the answers to an operator's calls ({@link io.credbroker.broker.revocation.CredentialRevocation},
 * {@link io.credbroker.broker.revocation.PodRevocation}, {@link
 * io.credbroker.broker.revocation.BulkRevocation}, each listing {@link
 * io.credbroker.broker.revocation.RevokedCredential}s) and the {@code NOTIFY} payload ({@link
 * io.credbroker.broker.revocation.RevocationMessage}). It owns the tables {@code pod_block} and
 * {@code audit_event}.
 */
@NullMarked
package io.credbroker.broker.revocation;

import org.jspecify.annotations.NullMarked;
