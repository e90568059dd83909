/**
 * The system under load: the dev-stack in this process, the target database and Vault set up by the
 * broker's own setup command, and the broker as a separate process, plus the probes that read it.
 */
@NullMarked
package io.credbroker.loadtest.stack;

import org.jspecify.annotations.NullMarked;
