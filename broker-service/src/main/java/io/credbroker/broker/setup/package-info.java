/**
 * Owns the one-shot, idempotent setup of a target PostgreSQL database and of Vault for the broker.
 */
@org.jspecify.annotations.NullMarked
package io.credbroker.broker.setup;
