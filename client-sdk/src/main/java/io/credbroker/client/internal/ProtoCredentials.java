package io.credbroker.client.internal;

import com.google.protobuf.Timestamp;
import io.credbroker.client.Credential;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/** Translates the wire's credential messages to the public {@link Credential} value. Stateless. */
public final class ProtoCredentials {

  private ProtoCredentials() {}

  /**
   * The public value for a wire credential; the password is taken as sent (empty for a resumed
   * credential).
   */
  public static Credential toCredential(io.credbroker.api.v1.Credential proto) {
    var hints = proto.getConnection();
    return new Credential(
        proto.getCredentialId(),
        proto.getDatabaseRole(),
        proto.getUsername(),
        proto.getPassword(),
        instant(proto.hasIssueTime(), proto.getIssueTime()),
        instant(proto.hasExpireTime(), proto.getExpireTime()),
        instant(proto.hasMaxExpireTime(), proto.getMaxExpireTime()),
        proto.getRenewable(),
        hints.getJdbcUrl(),
        hints.getHost(),
        (int) Math.min(hints.getPort() & 0xFFFF_FFFFL, 65_535L),
        hints.getDatabase(),
        hints.getSslmode());
  }

  /**
   * The credential the client already holds, with the times and hints of a {@code resumed} event;
   * the password is the held one, since the broker never sends it again.
   */
  public static Credential resumed(Credential held, io.credbroker.api.v1.Credential proto) {
    var hints = proto.getConnection();
    Instant issue = instant(proto.hasIssueTime(), proto.getIssueTime());
    Instant expire = instant(proto.hasExpireTime(), proto.getExpireTime());
    Instant maxExpire = instant(proto.hasMaxExpireTime(), proto.getMaxExpireTime());
    return new Credential(
        held.credentialId(),
        held.databaseRole(),
        held.username(),
        held.password(),
        issue != null ? issue : held.issueTime(),
        expire != null ? expire : held.expireTime(),
        maxExpire != null ? maxExpire : held.maxExpireTime(),
        proto.getRenewable(),
        hints.getJdbcUrl().isEmpty() ? held.jdbcUrl() : hints.getJdbcUrl(),
        hints.getHost().isEmpty() ? held.host() : hints.getHost(),
        hints.getPort() == 0
            ? held.port()
            : (int) Math.min(hints.getPort() & 0xFFFF_FFFFL, 65_535L),
        hints.getDatabase().isEmpty() ? held.database() : hints.getDatabase(),
        hints.getSslmode().isEmpty() ? held.sslmode() : hints.getSslmode());
  }

  public static @Nullable Instant instant(boolean present, Timestamp timestamp) {
    return present ? Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos()) : null;
  }
}
