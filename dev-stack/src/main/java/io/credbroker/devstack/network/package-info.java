/**
 * Network faults between a client and a server: a TCP proxy that passes, holds or resets traffic,
 * to put a partition or an unreachable database between the broker and what it depends on.
 */
@NullMarked
package io.credbroker.devstack.network;

import org.jspecify.annotations.NullMarked;
