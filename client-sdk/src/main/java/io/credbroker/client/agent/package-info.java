/**
 * The credential agent: a small process that holds a credential stream for an application that only
 * reads files (pgbouncer, a Rails {@code database.yml}, a {@code .pgpass}), renders the credential
 * into files atomically, tells the application to reload, and acknowledges a rotation only after
 * that. Built on the SDK's own stream, so resume, acknowledgement, release and backoff are the
 * SDK's; started by {@link io.credbroker.client.agent.AgentMain}.
 */
@NullMarked
package io.credbroker.client.agent;

import org.jspecify.annotations.NullMarked;
