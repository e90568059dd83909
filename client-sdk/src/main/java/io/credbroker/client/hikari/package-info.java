/**
 * HikariCP integration: a {@link javax.sql.DataSource} whose pool always logs in with the live
 * broker credential. Needs HikariCP on the class path (an optional dependency of the SDK).
 */
@NullMarked
package io.credbroker.client.hikari;

import org.jspecify.annotations.NullMarked;
