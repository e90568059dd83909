/** Heap dumps of the broker: where its heap per connected pod goes. */
@NullMarked
package io.credbroker.loadtest.heap;

import org.jspecify.annotations.NullMarked;
