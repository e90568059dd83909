/**
 * The broker application's entry point and the one exception type every feature reports failures
 * with.
 */
@NullMarked
package io.credbroker.broker;

import org.jspecify.annotations.NullMarked;
