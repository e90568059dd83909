/**
 * The storms users meet: a rollout of many pods at once, the loss of a replica holding many
 * streams, and the steady renewal of many short-lived credentials, each driven through the client
 * SDK against several broker replicas and compared with Vault's own ceiling measured in the same
 * run.
 */
@NullMarked
package io.credbroker.loadtest.storms;

import org.jspecify.annotations.NullMarked;
