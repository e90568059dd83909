package io.credbroker.broker.grpc;

import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Durations;
import io.credbroker.api.v1.ConnectionHints;
import io.credbroker.api.v1.Credential;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.IssuedCredential;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/** Translations between domain values and {@code credbroker.v1} messages. Stateless. */
final class ProtoCredentials {

  private ProtoCredentials() {}

  /** A stream event stamped with the current time, for the caller to set its payload. */
  static CredentialEvent.Builder event(Clock clock) {
    return CredentialEvent.newBuilder().setEventTime(timestamp(clock.instant()));
  }

  static Credential credential(IssuedCredential issued) {
    CredentialRecord record = issued.record();
    io.credbroker.broker.auth.ConnectionHints hints = issued.connection();
    Credential.Builder credential = Credential.newBuilder();
    if (record.maxExpireTime() != null) {
      credential.setMaxExpireTime(timestamp(record.maxExpireTime()));
    }
    return credential
        .setCredentialId(record.id().toString())
        .setDatabaseRole(record.databaseRole())
        .setUsername(record.username())
        .setPassword(issued.password())
        .setIssueTime(timestamp(record.issueTime()))
        .setExpireTime(timestamp(record.expireTime()))
        .setRenewable(record.renewable())
        .setConnection(
            ConnectionHints.newBuilder()
                .setHost(hints.host())
                .setPort(hints.port())
                .setDatabase(hints.database())
                .setSslmode(hints.sslmode())
                .setJdbcUrl(hints.jdbcUrl()))
        .build();
  }

  static com.google.protobuf.Duration duration(Duration duration) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(duration.getSeconds())
        .setNanos(duration.getNano())
        .build();
  }

  static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond())
        .setNanos(instant.getNano())
        .build();
  }

  /**
   * The requested TTL, or {@code null} when the field is unset.
   *
   * @throws BrokerException {@code INVALID_REQUEST} for a duration protobuf itself considers
   *     invalid (its range and sign rules, checked by protobuf's own {@link Durations#isValid})
   */
  static @Nullable Duration requestedTtl(boolean present, com.google.protobuf.Duration ttl) {
    if (!present) {
      return null;
    }
    if (!Durations.isValid(ttl)) {
      throw new BrokerException(
          BrokerException.Reason.INVALID_REQUEST, "requested_ttl is not a valid duration");
    }
    return Duration.ofSeconds(ttl.getSeconds(), ttl.getNanos());
  }
}
