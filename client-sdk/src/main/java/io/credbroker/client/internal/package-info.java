/**
 * The client's machinery behind the public facade: the reconnecting stream, token-file call
 * credentials, backoff and proto translation; not a public API.
 */
@NullMarked
package io.credbroker.client.internal;

import org.jspecify.annotations.NullMarked;
