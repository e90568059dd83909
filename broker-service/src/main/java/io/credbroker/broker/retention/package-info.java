/**
 * How long the state database keeps what is over: ended credentials and audit events are deleted
 * once older than their configured retention, and the rows of replicas once dead long enough and
 * owning no live credential.
 */
@NullMarked
package io.credbroker.broker.retention;

import org.jspecify.annotations.NullMarked;
