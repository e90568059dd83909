/**
 * The small HTTP layer both stand-ins stand on: a JDK {@code HttpServer} (plain or TLS), a
 * path-pattern router, and request/response values carrying JSON.
 */
@NullMarked
package io.credbroker.devstack.http;

import org.jspecify.annotations.NullMarked;
