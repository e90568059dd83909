/**
 * The dev stack as a whole: PostgreSQL (embedded or existing), the Vault stand-in and the
 * Kubernetes API stand-in started together, in-process ({@link io.credbroker.devstack.DevStack}) or
 * from the command line ({@link io.credbroker.devstack.DevStackMain}).
 */
@NullMarked
package io.credbroker.devstack;

import org.jspecify.annotations.NullMarked;
