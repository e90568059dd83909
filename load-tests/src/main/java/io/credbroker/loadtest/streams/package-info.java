/** The streams scenario: the broker's heap and threads per live {@code WatchCredential} stream. */
@NullMarked
package io.credbroker.loadtest.streams;

import org.jspecify.annotations.NullMarked;
