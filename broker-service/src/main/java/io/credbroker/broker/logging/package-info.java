/**
 * What the broker's own logging configuration adds to Spring Boot's: loggers that would print
 * secrets stay quiet.
 */
@NullMarked
package io.credbroker.broker.logging;

import org.jspecify.annotations.NullMarked;
