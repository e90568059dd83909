/**
 * {@code admin}: the SRE's command line for the broker's admin API. It authenticates as the person
 * running it, with the bearer token of their own kubeconfig user, so that the audit trail names
 * them; it verifies the broker's TLS certificate, never skips it. Runs without a Spring context, in
 * the broker's image and as the small {@code -cli} jar.
 */
@NullMarked
package io.credbroker.broker.cli;

import org.jspecify.annotations.NullMarked;
