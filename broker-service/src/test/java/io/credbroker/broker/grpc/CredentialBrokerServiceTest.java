package io.credbroker.broker.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.ArgumentMatchers.isNull;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.timeout;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import com.github.benmanes.caffeine.cache.Ticker;
import com.google.rpc.ErrorInfo;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import io.credbroker.api.v1.AcknowledgeRotationRequest;
import io.credbroker.api.v1.AcknowledgeRotationResponse;
import io.credbroker.api.v1.CredentialBrokerGrpc;
import io.credbroker.api.v1.CredentialEvent;
import io.credbroker.api.v1.IssueCredentialRequest;
import io.credbroker.api.v1.IssueCredentialResponse;
import io.credbroker.api.v1.ReleaseCredentialRequest;
import io.credbroker.api.v1.WatchCredentialRequest;
import io.credbroker.broker.BrokerException;
import io.credbroker.broker.auth.Binding;
import io.credbroker.broker.auth.Bindings;
import io.credbroker.broker.auth.ConnectionHints;
import io.credbroker.broker.auth.PodIdentity;
import io.credbroker.broker.auth.TokenAuthenticator;
import io.credbroker.broker.auth.TokenReviewOutcome;
import io.credbroker.broker.auth.TokenReviewer;
import io.credbroker.broker.lease.Acknowledgement;
import io.credbroker.broker.lease.CredentialIssuer;
import io.credbroker.broker.lease.CredentialKind;
import io.credbroker.broker.lease.CredentialRecord;
import io.credbroker.broker.lease.CredentialState;
import io.credbroker.broker.lease.IssuedCredential;
import io.credbroker.broker.lease.LeaseService;
import io.credbroker.broker.lease.RevocationTrigger;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.mockito.stubbing.OngoingStubbing;

/**
 * The gRPC API's shape over an in-process channel; the domain below it is real except the leases.
 */
class CredentialBrokerServiceTest {

  private static final PodIdentity APP_POD =
      new PodIdentity("public", "application", "app-1", "uid-1");
  private static final PodIdentity OTHER_POD = new PodIdentity("public", "other", "x-1", "uid-2");
  private static final ConnectionHints HINTS =
      new ConnectionHints("127.0.0.1", 15432, "db1", "disable");
  private static final Binding DB1 =
      new Binding("db1", "database", "db1", Set.of("public"), Set.of("application"), HINTS);

  private final String appToken = jwt();

  /** The app pod's token too, but one that expires in a few seconds. */
  private final Instant expiringTokenExpiry = Instant.now().plusSeconds(3);

  private final String expiringToken = jwt(expiringTokenExpiry);
  private final String otherToken = jwt();
  private final String unknownToken = jwt();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final LeaseService leases = mock(LeaseService.class);
  private WatchStreams streams;

  /** Whether the Kubernetes API answers no TokenReview (the reviewer fails as unavailable). */
  private final AtomicBoolean kubernetesDown = new AtomicBoolean();

  /** credbroker.grpc.max-stream-authorisation of the service under test. */
  private Duration maxStreamAuthorisation = Duration.ofHours(1);

  private InProcessGrpc grpc;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    Map<String, PodIdentity> known =
        Map.of(appToken, APP_POD, expiringToken, APP_POD, otherToken, OTHER_POD);
    TokenReviewer reviewer =
        (token, audiences) -> {
          if (kubernetesDown.get()) {
            throw new BrokerException(
                BrokerException.Reason.KUBERNETES_UNAVAILABLE,
                "Kubernetes is down",
                Duration.ofSeconds(1),
                null);
          }
          return known.containsKey(token.value())
              ? new TokenReviewOutcome(known.get(token.value()), audiences)
              : TokenReviewOutcome.rejected();
        };
    TokenAuthenticator authenticator =
        new TokenAuthenticator(
            reviewer,
            "credbroker",
            false,
            Duration.ofMinutes(5),
            Duration.ofSeconds(5),
            meters,
            Clock.systemUTC(),
            Ticker.systemTicker());
    CredentialIssuer issuer =
        new CredentialIssuer(authenticator, new Bindings(List.of(DB1)), leases, meters);
    streams =
        new WatchStreams(
            Duration.ofMillis(100),
            Clock.systemUTC(),
            meters,
            issuer::streamEnded,
            leases::detach,
            authenticator::reviewsAnswered);
    grpc =
        InProcessGrpc.serve(
            ServerInterceptors.intercept(
                new CredentialBrokerService(
                    issuer, leases, streams, Clock.systemUTC(), maxStreamAuthorisation),
                new BearerTokenInterceptor()));
    channel = grpc.channel();
  }

  @AfterEach
  void stop() {
    grpc.close();
    streams.close();
  }

  @Test
  void watchSendsTheCredentialFirstThenHeartbeatsAndStaysOpen() {
    IssuedCredential issued = issuedCredential(CredentialKind.STREAM);
    ArgumentCaptor<UUID> streamId = ArgumentCaptor.forClass(UUID.class);
    whenStreamIssued(streamId).thenReturn(issued);
    RecordingObserver events = new RecordingObserver();
    Context.CancellableContext call = Context.current().withCancellation();

    call.run(
        () ->
            stub(appToken)
                .watchCredential(
                    WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(), events));

    await().until(() -> events.events.size() >= 3);
    // A snapshot: heartbeats keep arriving while the assertions run, and a sublist of the live list
    // fails with ConcurrentModificationException when one does.
    List<CredentialEvent> received = List.copyOf(events.events);
    CredentialEvent first = received.get(0);
    assertThat(first.hasIssued()).isTrue();
    assertThat(first.getIssued().getCredential().getUsername()).isEqualTo("v-app-db1-abc");
    assertThat(first.getIssued().getCredential().getPassword()).isEqualTo("A1b2-C3d4-E5f6-G7h8");
    assertThat(first.getIssued().getCredential().getRenewable()).isTrue();
    assertThat(first.getIssued().getCredential().getConnection().getJdbcUrl())
        .isEqualTo("jdbc:postgresql://127.0.0.1:15432/db1?sslmode=disable");
    assertThat(received.subList(1, received.size())).allMatch(CredentialEvent::hasHeartbeat);
    assertThat(events.error.get()).isNull();
    assertThat(streams.size()).isEqualTo(1);
    assertThat(meters.get("credbroker.streams.active").gauge().value()).isEqualTo(1.0);

    call.cancel(null);

    await().until(() -> streams.size() == 0);
    // The credential stays alive for the reconnect grace; the stream it was attached to is gone.
    verify(leases).detach(streamId.getValue());
  }

  @Test
  void aStreamEndsOnceTheTokenItWasOpenedWithExpiresAndItsCredentialStaysResumable() {
    ArgumentCaptor<UUID> streamId = ArgumentCaptor.forClass(UUID.class);
    whenStreamIssued(streamId)
        .thenReturn(
            issuedCredential(CredentialKind.STREAM), issuedCredential(CredentialKind.STREAM));
    RecordingObserver expiring = new RecordingObserver();
    stub(expiringToken)
        .watchCredential(
            WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(), expiring);
    await().until(() -> streams.size() == 1);
    RecordingObserver lasting = new RecordingObserver();
    stub(appToken)
        .watchCredential(
            WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(), lasting);
    await().until(() -> streams.size() == 2);

    await().atMost(Duration.ofSeconds(10)).until(() -> expiring.error.get() != null);

    // Not before the token's expiry (a JWT's exp counts whole seconds), and as Kubernetes would
    // answer that token now; with a short retry delay, as the credential can be resumed at once.
    assertThat(Instant.now()).isAfterOrEqualTo(expiringTokenExpiry.minusSeconds(1));
    StatusRuntimeException ended = (StatusRuntimeException) expiring.error.get();
    assertThat(ended.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(errorInfo(ended).getReason()).isEqualTo("TOKEN_EXPIRED");
    assertThat(StatusProto.fromThrowable(ended).getDetailsList())
        .anySatisfy(detail -> assertThat(detail.is(com.google.rpc.RetryInfo.class)).isTrue());
    assertThat(expiring.events.get(0).hasIssued()).isTrue();
    assertThat(expiring.events.subList(1, expiring.events.size()))
        .allMatch(CredentialEvent::hasHeartbeat);
    // Its credential enters the reconnect grace, to be resumed with the token that replaced it.
    verify(leases, timeout(5_000)).detach(streamId.getAllValues().get(0));
    // The stream opened with a token that is still valid goes on.
    assertThat(streams.size()).isEqualTo(1);
    assertThat(lasting.error.get()).isNull();
    verify(leases, never()).detach(streamId.getAllValues().get(1));
  }

  @Test
  void whileKubernetesAnswersNoTokenReviewStreamsAreNotEndedForTheirTokenButOneThenTheyAre() {
    ArgumentCaptor<UUID> streamId = ArgumentCaptor.forClass(UUID.class);
    whenStreamIssued(streamId)
        .thenReturn(
            issuedCredential(CredentialKind.STREAM), issuedCredential(CredentialKind.STREAM));
    List<RecordingObserver> expiring = List.of(new RecordingObserver(), new RecordingObserver());
    for (RecordingObserver observer : expiring) {
      stub(expiringToken)
          .watchCredential(
              WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(), observer);
    }
    await().until(() -> streams.size() == 2);
    // Kubernetes goes down: a new pod's review fails, so no client could be let back in.
    kubernetesDown.set(true);
    assertRefused(
        () ->
            blocking(jwt())
                .issueCredential(
                    IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build()),
        Status.Code.UNAVAILABLE,
        "KUBERNETES_UNAVAILABLE");

    // Past their token's expiry (3 s) and the next checks, one stream has ended (a probe: its
    // resume would tell whether Kubernetes answers again) and the other goes on.
    await()
        .pollDelay(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(10))
        .until(() -> Instant.now().isAfter(expiringTokenExpiry.plusSeconds(2)));
    assertThat(expiring).filteredOn(o -> o.error.get() != null).hasSize(1);
    assertThat(streams.size()).isEqualTo(1);

    // Kubernetes answers again: the other ends as its token allows, and can be resumed.
    kubernetesDown.set(false);
    assertRefused(
        () ->
            blocking(jwt())
                .issueCredential(
                    IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build()),
        Status.Code.UNAUTHENTICATED,
        "TOKEN_REJECTED");
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> expiring.stream().allMatch(o -> o.error.get() != null));
    for (RecordingObserver observer : expiring) {
      assertThat(errorInfo((StatusRuntimeException) observer.error.get()).getReason())
          .isEqualTo("TOKEN_EXPIRED");
    }
    verify(leases, timeout(5_000).times(2)).detach(any());
  }

  @Test
  void aStreamEndsOnceItsLongestAuthorisationIsOverWhateverTheLifetimeOfItsToken()
      throws Exception {
    // A token of an hour, and a stream authorised for 2 s by its review: Kubernetes may stop
    // accepting a token before its expiry (its service account deleted), and only a new review
    // would notice.
    stop();
    maxStreamAuthorisation = Duration.ofSeconds(2);
    start();
    ArgumentCaptor<UUID> streamId = ArgumentCaptor.forClass(UUID.class);
    whenStreamIssued(streamId).thenReturn(issuedCredential(CredentialKind.STREAM));
    RecordingObserver events = new RecordingObserver();
    Instant opened = Instant.now();

    stub(appToken)
        .watchCredential(
            WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(), events);

    await().atMost(Duration.ofSeconds(10)).until(() -> events.error.get() != null);
    // Within the last 15 % of the 2 s (streams opened together end apart).
    assertThat(Instant.now()).isAfterOrEqualTo(opened.plusMillis(1700));
    StatusRuntimeException ended = (StatusRuntimeException) events.error.get();
    assertThat(ended.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(errorInfo(ended).getReason()).isEqualTo("TOKEN_EXPIRED");
    // Resumable with a token Kubernetes reviews again.
    verify(leases, timeout(5_000)).detach(streamId.getValue());
  }

  @Test
  void issueCredentialReturnsACredentialNobodyRenews() {
    IssuedCredential issued = issuedCredential(CredentialKind.ONE_SHOT);
    when(leases.issue(
            eq(APP_POD),
            eq(DB1),
            eq(CredentialKind.ONE_SHOT),
            eq(Duration.ofSeconds(90)),
            isNull(),
            isNull()))
        .thenReturn(issued);

    IssueCredentialResponse response =
        blocking(appToken)
            .withDeadlineAfter(java.time.Duration.ofSeconds(5))
            .issueCredential(
                IssueCredentialRequest.newBuilder()
                    .setDatabaseRole("db1")
                    .setRequestedTtl(com.google.protobuf.Duration.newBuilder().setSeconds(90))
                    .build());

    assertThat(response.getCredential().getCredentialId())
        .isEqualTo(issued.record().id().toString());
    assertThat(response.getCredential().getRenewable()).isFalse();
    assertThat(meters.counter("credbroker.credentials.issued", "role", "db1").count()).isEqualTo(1);
    assertThat(meters.find("credbroker.credentials.refused").counters()).isEmpty();
  }

  @Test
  void callWithoutTokenIsUnauthenticated() {
    CredentialBrokerGrpc.CredentialBrokerBlockingStub anonymous =
        CredentialBrokerGrpc.newBlockingStub(channel);

    assertRefused(
        () ->
            anonymous.issueCredential(
                IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build()),
        Status.Code.UNAUTHENTICATED,
        "TOKEN_MISSING");
  }

  @Test
  void anAnonymousCallIsUnauthenticatedWhateverItsRequestedTtl() {
    CredentialBrokerGrpc.CredentialBrokerBlockingStub anonymous =
        CredentialBrokerGrpc.newBlockingStub(channel);
    com.google.protobuf.Duration invalid =
        com.google.protobuf.Duration.newBuilder().setSeconds(1).setNanos(-1).build();
    IssueCredentialRequest issue =
        IssueCredentialRequest.newBuilder().setDatabaseRole("db1").setRequestedTtl(invalid).build();
    WatchCredentialRequest watch =
        WatchCredentialRequest.newBuilder().setDatabaseRole("db1").setRequestedTtl(invalid).build();

    assertRefused(
        () -> anonymous.issueCredential(issue), Status.Code.UNAUTHENTICATED, "TOKEN_MISSING");
    assertRefused(
        () -> anonymous.watchCredential(watch).next(),
        Status.Code.UNAUTHENTICATED,
        "TOKEN_MISSING");
    // An authenticated caller is told what is wrong with its request.
    assertRefused(
        () -> blocking(appToken).issueCredential(issue),
        Status.Code.INVALID_ARGUMENT,
        "INVALID_REQUEST");
  }

  @Test
  void rejectedTokenIsUnauthenticatedOnTheStream() {
    assertRefused(
        () ->
            blocking(unknownToken)
                .watchCredential(WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build())
                .next(),
        Status.Code.UNAUTHENTICATED,
        "TOKEN_REJECTED");
  }

  @Test
  void unboundServiceAccountIsPermissionDenied() {
    assertRefused(
        () ->
            blocking(otherToken)
                .issueCredential(
                    IssueCredentialRequest.newBuilder().setDatabaseRole("db1").build()),
        Status.Code.PERMISSION_DENIED,
        "NOT_BOUND");
    verify(leases, never()).issue(any(), any(), any(), any(), any(), any());
    assertThat(
            meters
                .counter("credbroker.credentials.refused", "role", "db1", "reason", "not_bound")
                .count())
        .isEqualTo(1);
    assertThat(meters.counter("credbroker.credentials.issued", "role", "db1").count()).isZero();
  }

  @Test
  void unknownDatabaseRoleIsNotFound() {
    assertRefused(
        () ->
            blocking(appToken)
                .issueCredential(
                    IssueCredentialRequest.newBuilder().setDatabaseRole("db9").build()),
        Status.Code.NOT_FOUND,
        "UNKNOWN_DATABASE_ROLE");
    assertThat(
            meters
                .counter(
                    "credbroker.credentials.refused",
                    "role",
                    "unknown",
                    "reason",
                    "unknown_database_role")
                .count())
        .isEqualTo(1);
    assertThat(meters.find("credbroker.credentials.issued").counters())
        .allSatisfy(issued -> assertThat(issued.count()).isZero());
  }

  @Test
  void malformedRequestsAreInvalidArguments() {
    assertRefused(
        () -> blocking(appToken).issueCredential(IssueCredentialRequest.getDefaultInstance()),
        Status.Code.INVALID_ARGUMENT,
        "INVALID_REQUEST");
    assertRefused(
        () ->
            blocking(appToken)
                .issueCredential(
                    IssueCredentialRequest.newBuilder()
                        .setDatabaseRole("db1; DROP TABLE credential")
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "INVALID_REQUEST");
    for (com.google.protobuf.Duration ttl :
        List.of(
            com.google.protobuf.Duration.newBuilder().setSeconds(-5).build(),
            // Math.abs(Long.MIN_VALUE) is negative: a range check by absolute value let this
            // through, and turning it into a java.time.Duration overflowed into INTERNAL.
            com.google.protobuf.Duration.newBuilder()
                .setSeconds(Long.MIN_VALUE)
                .setNanos(-1)
                .build())) {
      assertRefused(
          () ->
              blocking(appToken)
                  .issueCredential(
                      IssueCredentialRequest.newBuilder()
                          .setDatabaseRole("db1")
                          .setRequestedTtl(ttl)
                          .build()),
          Status.Code.INVALID_ARGUMENT,
          "INVALID_REQUEST");
    }
    verify(leases, never()).issue(any(), any(), any(), any(), any(), any());
  }

  @Test
  void resumeOfACredentialThatIsNoLongerAliveIsFailedPrecondition() {
    when(leases.resume(eq(APP_POD), eq(DB1), any(), any()))
        .thenThrow(
            new BrokerException(
                BrokerException.Reason.CREDENTIAL_NOT_RESUMABLE, "the credential is gone"));
    assertRefused(
        () -> blocking(appToken).watchCredential(resumeRequest(UUID.randomUUID())).next(),
        Status.Code.FAILED_PRECONDITION,
        "CREDENTIAL_NOT_RESUMABLE");
  }

  @Test
  void resumedCredentialComesFirstWithoutPassword() {
    IssuedCredential adopted = issuedCredential(CredentialKind.STREAM);
    IssuedCredential withoutPassword =
        new IssuedCredential(adopted.record(), "", adopted.connection());
    when(leases.resume(eq(APP_POD), eq(DB1), eq(adopted.record().id()), any()))
        .thenReturn(withoutPassword);

    CredentialEvent first =
        blocking(appToken).watchCredential(resumeRequest(adopted.record().id())).next();

    assertThat(first.hasResumed()).isTrue();
    assertThat(first.getResumed().getCredential().getUsername()).isEqualTo("v-app-db1-abc");
    assertThat(first.getResumed().getCredential().getPassword()).isEmpty();
    await().until(() -> streams.holds(adopted.record().id()));
  }

  @Test
  void malformedCredentialIdsAreInvalidArguments() {
    assertRefused(
        () ->
            blocking(appToken)
                .releaseCredential(
                    ReleaseCredentialRequest.newBuilder().setCredentialId("12; DROP").build()),
        Status.Code.INVALID_ARGUMENT,
        "INVALID_REQUEST");
    assertRefused(
        () ->
            blocking(appToken).acknowledgeRotation(AcknowledgeRotationRequest.getDefaultInstance()),
        Status.Code.INVALID_ARGUMENT,
        "INVALID_REQUEST");
    verify(leases, never()).release(any(), any());
    verify(leases, never()).acknowledge(any(), any());
  }

  @Test
  void acknowledgementAnswersWithTheReplacedCredentialAndItsRevocationTime() {
    UUID replacement = UUID.randomUUID();
    UUID replaced = UUID.randomUUID();
    Instant revokeAt = Instant.parse("2026-01-01T12:00:30Z");
    when(leases.acknowledge(APP_POD, replacement))
        .thenReturn(new Acknowledgement(replaced, revokeAt));

    AcknowledgeRotationResponse response =
        blocking(appToken)
            .acknowledgeRotation(
                AcknowledgeRotationRequest.newBuilder()
                    .setCredentialId(replacement.toString())
                    .build());

    assertThat(response.getReplacedCredentialId()).isEqualTo(replaced.toString());
    assertThat(response.getRevokeTime().getSeconds()).isEqualTo(revokeAt.getEpochSecond());
  }

  @Test
  void releaseEndsTheStreamHoldingTheCredentialWithOk() {
    IssuedCredential issued = issuedCredential(CredentialKind.STREAM);
    RecordingObserver events = appStreamIssued(issued);

    blocking(appToken)
        .releaseCredential(
            ReleaseCredentialRequest.newBuilder()
                .setCredentialId(issued.record().id().toString())
                .build());

    verify(leases).release(APP_POD, issued.record().id());
    await().until(() -> events.completed.get());
    assertThat(events.error.get()).isNull();
    assertThat(streams.size()).isZero();
  }

  @Test
  void revokedCredentialGetsTheRevokedEventThenPermissionDenied() {
    IssuedCredential issued = issuedCredential(CredentialKind.STREAM);
    RecordingObserver events = appStreamIssued(issued);

    streams.revoked(issued.record().id(), "POD_REVOKED");

    assertRevoked(events, Status.Code.PERMISSION_DENIED, "POD_REVOKED");
    assertThat(streams.size()).isZero();
  }

  @Test
  void aClientThatLeavesWhileItsCredentialIsIssuedLeavesItDetached() {
    IssuedCredential issued = issuedCredential(CredentialKind.STREAM);
    ArgumentCaptor<UUID> streamId = ArgumentCaptor.forClass(UUID.class);
    // The credential is recorded for the stream only after the client has gone (a deadline, a pod
    // that stopped), while the call is still being served.
    whenStreamIssued(streamId)
        .thenAnswer(
            invocation -> {
              Context serverCall = Context.current();
              await().until(serverCall::isCancelled);
              return issued;
            });
    Context.CancellableContext call = Context.current().withCancellation();
    call.run(
        () ->
            stub(appToken)
                .watchCredential(
                    WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(),
                    new RecordingObserver()));
    verify(leases, timeout(10_000)).issue(any(), any(), any(), any(), any(), any());

    call.cancel(null);

    // Detached like any stream that ended, so its reconnect grace runs and then it is revoked;
    // attached to a stream that no longer exists, it would be renewed until Vault's max TTL.
    // (Detached once by the service and once more by the cancel handler, which gRPC runs after
    // the call's method returned; the second finds nothing to do.)
    verify(leases, timeout(10_000).atLeastOnce()).detach(streamId.getValue());
    assertThat(streams.size()).isZero();
  }

  @Test
  void aRevocationNoticeThatArrivesBeforeTheStreamRegistersStillEndsIt() {
    IssuedCredential issued = issuedCredential(CredentialKind.STREAM);
    // The notice arrives after the credential was recorded and before its stream is registered.
    when(leases.issue(eq(APP_POD), eq(DB1), eq(CredentialKind.STREAM), isNull(), any(), isNull()))
        .thenAnswer(
            invocation -> {
              streams.revoked(issued.record().id(), "POD_REVOKED");
              return issued;
            });
    RecordingObserver events = new RecordingObserver();

    stub(appToken)
        .watchCredential(
            WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(), events);

    await().until(() -> events.error.get() != null);
    assertThat(events.events.get(0).hasIssued()).isTrue();
    assertRevoked(events, Status.Code.PERMISSION_DENIED, "POD_REVOKED");
    assertThat(streams.size()).isZero();
  }

  @Test
  void aStreamIsOpeningForTheLeaseLifecycleFromItsResumeUntilItIsRegisteredOrFailed() {
    IssuedCredential adopted = issuedCredential(CredentialKind.STREAM);
    AtomicReference<UUID> streamId = new AtomicReference<>();
    AtomicReference<Boolean> openingDuringResume = new AtomicReference<>();
    when(leases.resume(eq(APP_POD), eq(DB1), eq(adopted.record().id()), any()))
        .thenAnswer(
            invocation -> {
              UUID id = invocation.getArgument(3);
              streamId.set(id);
              openingDuringResume.set(streams.opening(id));
              return new IssuedCredential(adopted.record(), "", adopted.connection());
            });

    CredentialEvent first =
        blocking(appToken).watchCredential(resumeRequest(adopted.record().id())).next();

    // While the resume ran, a keeper finding the row attached to no registered stream was told
    // that one is on its way; once registered, it holds the credential and is opening no more.
    assertThat(first.hasResumed()).isTrue();
    assertThat(openingDuringResume.get()).isTrue();
    await().until(() -> streams.holds(adopted.record().id()));
    assertThat(streams.opening(streamId.get())).isFalse();

    // A resume that fails leaves nothing opening: no stream will come to take a replacement.
    AtomicReference<UUID> failedStreamId = new AtomicReference<>();
    when(leases.resume(eq(APP_POD), eq(DB1), eq(adopted.record().id()), any()))
        .thenAnswer(
            invocation -> {
              failedStreamId.set(invocation.getArgument(3));
              throw new BrokerException(
                  BrokerException.Reason.CREDENTIAL_NOT_RESUMABLE, "the credential is gone");
            });
    assertRefused(
        () -> blocking(appToken).watchCredential(resumeRequest(adopted.record().id())).next(),
        Status.Code.FAILED_PRECONDITION,
        "CREDENTIAL_NOT_RESUMABLE");
    assertThat(failedStreamId.get()).isNotNull();
    // The call ends opening after it sent the error (in its finally), so the client may see the
    // error first.
    await().atMost(Duration.ofSeconds(5)).until(() -> !streams.opening(failedStreamId.get()));
  }

  @Test
  void aCredentialTheKeeperRevokesBeforeItsResumedStreamRegistersEndsThatStream() {
    IssuedCredential adopted = issuedCredential(CredentialKind.STREAM);
    // The resume attached it here; before the call registers its stream, this replica's keeper
    // finds Vault refusing its renewal and, seeing no stream, revokes it.
    when(leases.resume(eq(APP_POD), eq(DB1), eq(adopted.record().id()), any()))
        .thenAnswer(
            invocation -> {
              streams.revoked(adopted.record().id(), RevocationTrigger.EXPIRED);
              return new IssuedCredential(adopted.record(), "", adopted.connection());
            });
    RecordingObserver events = new RecordingObserver();

    stub(appToken).watchCredential(resumeRequest(adopted.record().id()), events);

    // Not left open on a role that is gone: the client is told, and asks for a new credential.
    await().until(() -> events.error.get() != null);
    assertThat(events.events.get(0).hasResumed()).isTrue();
    StatusRuntimeException status =
        assertRevoked(events, Status.Code.FAILED_PRECONDITION, "CREDENTIAL_REVOKED");
    assertThat(status.getStatus().getDescription()).contains("expired");
    assertThat(streams.size()).isZero();
  }

  @Test
  void aRenewalTheKeeperMakesBeforeTheResumedStreamRegistersFollowsItsFirstEvent() {
    IssuedCredential adopted = issuedCredential(CredentialKind.STREAM);
    Instant renewedTo = adopted.record().expireTime().plusSeconds(300);
    // The resume read the credential; before the call registers its stream, this replica's keeper
    // renews its lease and, seeing no stream, tells nobody.
    when(leases.resume(eq(APP_POD), eq(DB1), eq(adopted.record().id()), any()))
        .thenAnswer(
            invocation -> {
              streams.renewed(adopted.record().id(), renewedTo);
              return new IssuedCredential(adopted.record(), "", adopted.connection());
            });
    RecordingObserver events = new RecordingObserver();

    stub(appToken).watchCredential(resumeRequest(adopted.record().id()), events);

    // Without it, the client would hold the older expiry until the next renewal, which comes after
    // that expiry has passed.
    await().until(() -> events.events.size() >= 2);
    assertThat(events.events.get(0).getResumed().getCredential().getExpireTime())
        .isEqualTo(ProtoCredentials.timestamp(adopted.record().expireTime()));
    assertThat(events.events.get(1).getRenewed().getExpireTime())
        .isEqualTo(ProtoCredentials.timestamp(renewedTo));
    assertThat(events.error.get()).isNull();
  }

  @Test
  void rotationHandsTheStreamTheNewCredentialAndRenewalsFollowIt() {
    IssuedCredential issued = issuedCredential(CredentialKind.STREAM);
    IssuedCredential replacement = issuedCredential(CredentialKind.STREAM);
    RecordingObserver events = appStreamIssued(issued);

    boolean delivered =
        streams.rotated(
            issued.record().id(),
            replacement,
            Duration.ofSeconds(20),
            io.credbroker.broker.lease.RotationReason.MAX_TTL);
    streams.renewed(replacement.record().id(), Instant.parse("2030-01-01T00:00:00Z"));

    assertThat(delivered).isTrue();
    assertThat(streams.holds(replacement.record().id())).isTrue();
    assertThat(streams.holds(issued.record().id())).isFalse();
    await().until(() -> events.events.stream().anyMatch(CredentialEvent::hasRenewed));
    CredentialEvent rotated =
        events.events.stream().filter(CredentialEvent::hasRotated).findFirst().orElseThrow();
    assertThat(rotated.getRotated().getReplaces()).isEqualTo(issued.record().id().toString());
    assertThat(rotated.getRotated().getCredential().getPassword())
        .isEqualTo(replacement.password());
    assertThat(rotated.getRotated().getPreviousValidFor().getSeconds()).isEqualTo(20);
    assertThat(rotated.getRotated().getReason())
        .isEqualTo(io.credbroker.api.v1.RotationReason.ROTATION_REASON_MAX_TTL);
  }

  @Test
  void shutdownEndsOpenStreamsWithUnavailable() {
    RecordingObserver events = appStreamIssued(issuedCredential(CredentialKind.STREAM));

    streams.closeAll();

    await().until(() -> events.error.get() != null);
    assertThat(Status.fromThrowable(events.error.get()).getCode())
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(streams.size()).isZero();
  }

  /**
   * The app pod's open WatchCredential stream on which the broker issued {@code issued}, once the
   * broker holds it.
   */
  private RecordingObserver appStreamIssued(IssuedCredential issued) {
    when(leases.issue(eq(APP_POD), eq(DB1), eq(CredentialKind.STREAM), isNull(), any(), isNull()))
        .thenReturn(issued);
    RecordingObserver events = new RecordingObserver();
    stub(appToken)
        .watchCredential(
            WatchCredentialRequest.newBuilder().setDatabaseRole("db1").build(), events);
    await().until(() -> streams.size() == 1);
    return events;
  }

  private CredentialBrokerGrpc.CredentialBrokerStub stub(String token) {
    return CredentialBrokerGrpc.newStub(channel).withInterceptors(bearer(token));
  }

  private CredentialBrokerGrpc.CredentialBrokerBlockingStub blocking(String token) {
    return CredentialBrokerGrpc.newBlockingStub(channel).withInterceptors(bearer(token));
  }

  private static io.grpc.ClientInterceptor bearer(String token) {
    Metadata headers = new Metadata();
    headers.put(BearerTokenInterceptor.AUTHORIZATION, "Bearer " + token);
    return MetadataUtils.newAttachHeadersInterceptor(headers);
  }

  /**
   * Waits for the stream to end and asserts it was told {@code revoked} with {@code reason}, then
   * ended with {@code code} and that reason.
   */
  private static StatusRuntimeException assertRevoked(
      RecordingObserver events, Status.Code code, String reason) {
    await().until(() -> events.error.get() != null);
    assertThat(events.events)
        .filteredOn(CredentialEvent::hasRevoked)
        .singleElement()
        .satisfies(e -> assertThat(e.getRevoked().getReason()).isEqualTo(reason));
    StatusRuntimeException status = (StatusRuntimeException) events.error.get();
    assertThat(status.getStatus().getCode()).isEqualTo(code);
    assertThat(errorInfo(status).getReason()).isEqualTo(reason);
    return status;
  }

  /** A watch of {@code db1} that resumes {@code credentialId}. */
  private static WatchCredentialRequest resumeRequest(UUID credentialId) {
    return WatchCredentialRequest.newBuilder()
        .setDatabaseRole("db1")
        .setResumeCredentialId(credentialId.toString())
        .build();
  }

  private static void assertRefused(Runnable call, Status.Code code, String reason) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(code);
              assertThat(errorInfo(e).getReason()).isEqualTo(reason);
              assertThat(errorInfo(e).getDomain()).isEqualTo("credbroker.io");
            });
  }

  private static ErrorInfo errorInfo(StatusRuntimeException e) {
    try {
      return StatusProto.fromThrowable(e).getDetailsList().stream()
          .filter(any -> any.is(ErrorInfo.class))
          .findFirst()
          .orElseThrow()
          .unpack(ErrorInfo.class);
    } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
      throw new AssertionError(ex);
    }
  }

  /** Stubs the issue of a stream credential to the application's pod, capturing its stream. */
  private OngoingStubbing<IssuedCredential> whenStreamIssued(ArgumentCaptor<UUID> streamId) {
    return when(
        leases.issue(
            eq(APP_POD),
            eq(DB1),
            eq(CredentialKind.STREAM),
            isNull(),
            streamId.capture(),
            isNull()));
  }

  /** A live credential of {@code kind} for the pod app-1, issued now for a minute. */
  static IssuedCredential issuedCredential(CredentialKind kind) {
    Instant now = Instant.now();
    CredentialRecord record =
        new CredentialRecord(
            UUID.randomUUID(),
            "db1",
            "database",
            "db1",
            "database/creds/db1/abc",
            "v-app-db1-abc",
            APP_POD,
            kind,
            CredentialState.ACTIVE,
            kind == CredentialKind.STREAM,
            "replica-1",
            now,
            now.plusSeconds(60));
    return new IssuedCredential(record, "A1b2-C3d4-E5f6-G7h8", HINTS);
  }

  private static String jwt() {
    return jwt(Instant.now().plusSeconds(3600));
  }

  private static String jwt(Instant expiry) {
    return new PlainJWT(
            new JWTClaimsSet.Builder()
                .jwtID(UUID.randomUUID().toString())
                .expirationTime(Date.from(expiry))
                .build())
        .serialize();
  }

  /** Records what a streaming call delivers. */
  private static final class RecordingObserver implements StreamObserver<CredentialEvent> {
    final List<CredentialEvent> events = new CopyOnWriteArrayList<>();
    final AtomicReference<Throwable> error = new AtomicReference<>();
    final java.util.concurrent.atomic.AtomicBoolean completed =
        new java.util.concurrent.atomic.AtomicBoolean();

    @Override
    public void onNext(CredentialEvent value) {
      events.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error.set(t);
    }

    @Override
    public void onCompleted() {
      completed.set(true);
    }
  }
}
