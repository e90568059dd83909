/**
 * The load generator's command line: one subcommand per scenario, each on a stack it starts itself.
 */
@NullMarked
package io.credbroker.loadtest;

import org.jspecify.annotations.NullMarked;
