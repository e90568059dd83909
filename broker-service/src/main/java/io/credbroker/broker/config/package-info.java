/**
 * The broker's one configuration tree, bound from {@code credbroker.*} and validated at startup.
 */
@NullMarked
package io.credbroker.broker.config;

import org.jspecify.annotations.NullMarked;
