package io.credbroker.broker.admin;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.auth.KubernetesUser;
import io.credbroker.broker.lease.CredentialQuery;
import io.credbroker.broker.lease.ListSlice;
import io.credbroker.broker.lease.QueuedRevocation;
import io.credbroker.broker.revocation.AuditEvent;
import io.credbroker.broker.revocation.BulkRevocation;
import io.credbroker.broker.revocation.CredentialRevocation;
import io.credbroker.broker.revocation.CredentialSummary;
import io.credbroker.broker.revocation.PodRevocation;
import io.credbroker.broker.revocation.PodStatus;
import io.credbroker.broker.revocation.PodUnblock;
import io.credbroker.broker.revocation.RevocationSelector;
import io.credbroker.broker.revocation.RevocationService;
import io.credbroker.broker.revocation.RevocationStore;
import io.credbroker.broker.revocation.UndroppedRoles;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Valid;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code /admin/v1}: revoke a pod, a credential or every holder matching a selection, lift a pod's
 * block, find who holds what, read the retry queue and the audit trail. Translates and delegates;
 * every call is authenticated first ({@link AdminAuthentication}: 401 before anything else, even
 * before its body is read), then its parameters are checked (400), then RBAC is asked (403).
 *
 * <p>Stateless and thread-safe; calls block on the state database, Vault and the Kubernetes API.
 */
@RestController
@RequestMapping(path = "/admin/v1", produces = MediaType.APPLICATION_JSON_VALUE)
@Tag(name = "admin", description = "Operator API, authorised by Kubernetes RBAC")
@SecurityRequirement(name = AdminConfiguration.SECURITY_SCHEME)
@ApiResponse(
    responseCode = "400",
    description = "Malformed name, parameter or body",
    content =
        @Content(
            mediaType = "application/problem+json",
            schema = @Schema(implementation = ProblemDetail.class)))
@ApiResponse(
    responseCode = "401",
    description = "No bearer token, or Kubernetes rejected it",
    content =
        @Content(
            mediaType = "application/problem+json",
            schema = @Schema(implementation = ProblemDetail.class)))
@ApiResponse(
    responseCode = "403",
    description =
        "Kubernetes RBAC does not allow the caller this verb (get, list, revoke or unblock) on credentials.credbroker.io in the namespace",
    content =
        @Content(
            mediaType = "application/problem+json",
            schema = @Schema(implementation = ProblemDetail.class)))
@ApiResponse(
    responseCode = "503",
    description = "Kubernetes, Vault or the state database is unavailable; retry",
    content =
        @Content(
            mediaType = "application/problem+json",
            schema = @Schema(implementation = ProblemDetail.class)))
class AdminController {

  static final int MAX_LIMIT = 1000;

  private final AdminAccess access;
  private final RevocationService revocations;
  private final RevocationStore store;
  private final UndroppedRoles undroppedRoles;

  AdminController(
      AdminAccess access,
      RevocationService revocations,
      RevocationStore store,
      UndroppedRoles undroppedRoles) {
    this.access = Objects.requireNonNull(access, "access");
    this.revocations = Objects.requireNonNull(revocations, "revocations");
    this.store = Objects.requireNonNull(store, "store");
    this.undroppedRoles = Objects.requireNonNull(undroppedRoles, "undroppedRoles");
  }

  // No "consumes" on the mappings: a call without a body or content type must reach the
  // controller, so that a missing token is answered 401 and every failure is a problem detail.
  @PostMapping("/namespaces/{namespace}/pods/{pod}/revocations")
  @Operation(
      summary = "Revoke a pod",
      description =
          "Blocks every UID of this pod the broker has seen and the UID of the pod of this name that"
              + " exists in Kubernetes now, even if it never asked for a credential (a replacement"
              + " pod with a new UID is not blocked), revokes each live credential in Vault (the role can no longer log in and"
              + " its sessions are terminated), tells the pod's streams on every replica, and"
              + " writes an audit record. Idempotent: a repeated call revokes nothing new and gives"
              + " the same answer. RBAC verb: revoke.")
  @ApiResponse(responseCode = "200", description = "The pod's blocks and revoked credentials")
  @ApiResponse(
      responseCode = "404",
      description = "Neither the broker nor Kubernetes knows a pod of this name",
      content =
          @Content(
              mediaType = "application/problem+json",
              schema = @Schema(implementation = ProblemDetail.class)))
  PodRevocation revokePod(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @PathVariable String namespace,
      @PathVariable String pod,
      @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true)
          @Valid
          @RequestBody(required = false)
          @Nullable RevocationRequest request) {
    String ns = KubernetesNames.namespace(namespace);
    String podName = KubernetesNames.podName(pod);
    AdminCaller caller = access.authorize(user, AdminVerb.REVOKE, ns);
    return revocations.revokePod(ns, podName, reason(request), caller.username());
  }

  @PostMapping("/namespaces/{namespace}/pods/{pod}/unblock")
  @Operation(
      summary = "Lift a pod's block",
      description =
          "Removes the blocks of every UID of pods of this name, so that they may obtain credentials"
              + " again on every replica (within the block cache's lifetime at the latest); the"
              + " credentials revoked stay revoked. Audited as POD_UNBLOCKED with the reason. RBAC"
              + " verb: unblock.")
  @ApiResponse(responseCode = "200", description = "The blocks lifted")
  @ApiResponse(
      responseCode = "404",
      description = "No pod of this name is blocked",
      content =
          @Content(
              mediaType = "application/problem+json",
              schema = @Schema(implementation = ProblemDetail.class)))
  PodUnblock unblockPod(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @PathVariable String namespace,
      @PathVariable String pod,
      @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true)
          @Valid
          @RequestBody(required = false)
          @Nullable RevocationRequest request) {
    String ns = KubernetesNames.namespace(namespace);
    String podName = KubernetesNames.podName(pod);
    String why = reason(request);
    AdminCaller caller = access.authorize(user, AdminVerb.UNBLOCK, ns);
    return revocations.unblockPod(ns, podName, why, caller.username());
  }

  @PostMapping("/revocations")
  @Operation(
      summary = "Revoke every holder matching a selection",
      description =
          "Every pod holding a live credential that matches all the filters (a namespace, a service"
              + " account in it, a database role) is revoked as a single pod is, with one audit"
              + " record each; matching credentials of tokens bound to no pod are revoked one by one."
              + " With dryRun=true nothing changes and the answer lists what would be revoked (no"
              + " reason needed). A namespace or a database role is required; a service account needs"
              + " its namespace. At most "
              + RevocationService.MAX_BULK_PODS
              + " pods at once."
              + " Idempotent: a repeated call revokes what is left. RBAC verb: revoke, in the"
              + " namespace, or in all namespaces when none is given (also for a dry run).")
  @ApiResponse(
      responseCode = "200",
      description = "The pods and pod-less credentials revoked, or that would be")
  BulkRevocation revokeMatching(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @Parameter(description = "Only show what would be revoked")
          @RequestParam(defaultValue = "false")
          boolean dryRun,
      @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true)
          @Valid
          @RequestBody(required = false)
          @Nullable BulkRevocationRequest request) {
    if (request == null) {
      throw new BrokerException(
          Reason.INVALID_REQUEST, "a JSON body with the selection (and a \"reason\") is required");
    }
    String ns = KubernetesNames.optionalNamespace(request.namespace());
    String serviceAccount = KubernetesNames.optionalServiceAccount(request.serviceAccount());
    String databaseRole = KubernetesNames.optionalDatabaseRole(request.databaseRole());
    if (ns == null && databaseRole == null) {
      throw new BrokerException(
          Reason.INVALID_REQUEST, "a namespace or a databaseRole is required");
    }
    if (serviceAccount != null && ns == null) {
      throw new BrokerException(Reason.INVALID_REQUEST, "serviceAccount needs its namespace");
    }
    String why = request.reason() == null ? null : request.reason().strip();
    if (!dryRun) {
      if (why == null || why.isEmpty()) {
        throw new BrokerException(Reason.INVALID_REQUEST, "reason is required unless dryRun=true");
      }
      why = auditReason(why);
    }
    AdminCaller caller = access.authorize(user, AdminVerb.REVOKE, ns);
    return revocations.revokeMatching(
        new RevocationSelector(ns, serviceAccount, databaseRole), dryRun, why, caller.username());
  }

  @GetMapping("/namespaces/{namespace}/pods/{pod}")
  @Operation(
      summary = "Show a pod",
      description = "Blocks and credentials (newest first) of pods of this name. RBAC verb: get.")
  @ApiResponse(responseCode = "200", description = "What the broker knows about the pod")
  @ApiResponse(
      responseCode = "404",
      description = "The broker knows nothing about this pod",
      content =
          @Content(
              mediaType = "application/problem+json",
              schema = @Schema(implementation = ProblemDetail.class)))
  PodStatus pod(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @PathVariable String namespace,
      @PathVariable String pod) {
    String ns = KubernetesNames.namespace(namespace);
    String podName = KubernetesNames.podName(pod);
    access.authorize(user, AdminVerb.GET, ns);
    return revocations.podStatus(ns, podName, MAX_LIMIT);
  }

  @PostMapping("/credentials/{credentialId}/revocations")
  @Operation(
      summary = "Revoke one credential",
      description =
          "Revokes the credential in Vault and ends its stream; the pod is not blocked and may obtain"
              + " a new credential. Idempotent. RBAC verb: revoke, in the credential's namespace.")
  @ApiResponse(responseCode = "200", description = "The credential as it is now")
  @ApiResponse(
      responseCode = "404",
      description = "No credential has this id",
      content =
          @Content(
              mediaType = "application/problem+json",
              schema = @Schema(implementation = ProblemDetail.class)))
  CredentialRevocation revokeCredential(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @PathVariable String credentialId,
      @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true)
          @Valid
          @RequestBody(required = false)
          @Nullable RevocationRequest request) {
    UUID id = credentialId(credentialId);
    AdminCaller caller = authorizedCredential(user, AdminVerb.REVOKE, id).caller();
    return revocations.revokeCredential(id, reason(request), caller.username());
  }

  @GetMapping("/credentials/{credentialId}")
  @Operation(summary = "Show one credential", description = "RBAC verb: get, in its namespace.")
  @ApiResponse(responseCode = "200", description = "The credential; never a password")
  @ApiResponse(
      responseCode = "404",
      description = "No credential has this id",
      content =
          @Content(
              mediaType = "application/problem+json",
              schema = @Schema(implementation = ProblemDetail.class)))
  CredentialSummary credential(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @PathVariable String credentialId) {
    UUID id = credentialId(credentialId);
    return authorizedCredential(user, AdminVerb.GET, id).credential();
  }

  @GetMapping("/credentials")
  @Operation(
      summary = "Find credentials",
      description =
          "Who holds which PostgreSQL user: filter by namespace, service account, pod, database role"
              + " or user name, and by issue time (since, until). Never a password. Pages: pass"
              + " nextCursor as cursor with the same filters. RBAC verb: list, in the namespace, or"
              + " in all namespaces when no namespace is given.")
  @ApiResponse(responseCode = "200", description = "Matching credentials, newest first")
  ItemLists.CredentialList credentials(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @RequestParam(required = false) @Nullable String namespace,
      @RequestParam(required = false) @Nullable String serviceAccount,
      @RequestParam(required = false) @Nullable String pod,
      @RequestParam(required = false) @Nullable String databaseRole,
      @RequestParam(required = false) @Nullable String username,
      @RequestParam(defaultValue = "false") boolean activeOnly,
      @Parameter(description = "Issued at or after this RFC 3339 time")
          @RequestParam(required = false)
          @Nullable String since,
      @Parameter(description = "Issued before this RFC 3339 time") @RequestParam(required = false)
          @Nullable String until,
      @Parameter(description = "nextCursor of the previous page") @RequestParam(required = false)
          @Nullable String cursor,
      @RequestParam(defaultValue = "100") int limit) {
    ListSlice slice =
        ListParameters.slice(
            ListParameters.Kind.CREDENTIALS, since, until, cursor, limit, MAX_LIMIT);
    CredentialQuery query =
        new CredentialQuery(
            KubernetesNames.optionalNamespace(namespace),
            KubernetesNames.optionalServiceAccount(serviceAccount),
            KubernetesNames.optionalPodName(pod),
            KubernetesNames.optionalDatabaseRole(databaseRole),
            KubernetesNames.optionalUsername(username),
            activeOnly,
            slice);
    access.authorize(user, AdminVerb.LIST, query.namespace());
    ListParameters.Page<CredentialSummary> page =
        ListParameters.page(
            ListParameters.Kind.CREDENTIALS,
            store.search(query.withSlice(slice.oneMore())),
            slice,
            c -> new ListSlice.Position(c.issueTime(), c.id().toString()));
    return new ItemLists.CredentialList(page.items(), page.nextCursor());
  }

  @GetMapping("/revocation-queue")
  @Operation(
      summary = "Revocations waiting for Vault",
      description =
          "Revocations Vault has not confirmed yet (their roles may still log in); they are retried"
              + " with backoff. Window (since, until) on the time they were queued; pages as for"
              + " credentials. RBAC verb: list, in the namespace or in all namespaces.")
  @ApiResponse(responseCode = "200", description = "Queued revocations, oldest first")
  ItemLists.QueuedRevocationList revocationQueue(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @RequestParam(required = false) @Nullable String namespace,
      @Parameter(description = "Queued at or after this RFC 3339 time")
          @RequestParam(required = false)
          @Nullable String since,
      @Parameter(description = "Queued before this RFC 3339 time") @RequestParam(required = false)
          @Nullable String until,
      @Parameter(description = "nextCursor of the previous page") @RequestParam(required = false)
          @Nullable String cursor,
      @RequestParam(defaultValue = "100") int limit) {
    String ns = KubernetesNames.optionalNamespace(namespace);
    ListSlice slice =
        ListParameters.slice(
            ListParameters.Kind.REVOCATION_QUEUE, since, until, cursor, limit, MAX_LIMIT);
    access.authorize(user, AdminVerb.LIST, ns);
    ListParameters.Page<QueuedRevocation> page =
        ListParameters.page(
            ListParameters.Kind.REVOCATION_QUEUE,
            store.queue(ns, slice.oneMore()),
            slice,
            q -> new ListSlice.Position(q.enqueuedTime(), q.credentialId().toString()));
    return new ItemLists.QueuedRevocationList(page.items(), page.nextCursor());
  }

  @GetMapping("/undropped-roles")
  @Operation(
      summary = "Revoked roles not dropped yet",
      description =
          "PostgreSQL roles whose revocation refused their login and ended their sessions but could not"
              + " drop them (something of theirs in another database, a grant made to them); later"
              + " revocations retry the drop. As of the broker's last check. RBAC verb: list, in all"
              + " namespaces.")
  @ApiResponse(responseCode = "200", description = "Undropped roles, oldest revocation first")
  ItemLists.UndroppedRoleList undroppedRoles(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user) {
    access.authorize(user, AdminVerb.LIST, null);
    UndroppedRoles.Snapshot snapshot = undroppedRoles.snapshot();
    return new ItemLists.UndroppedRoleList(snapshot.roles(), snapshot.checkTime());
  }

  @GetMapping("/audit-events")
  @Operation(
      summary = "The audit trail",
      description =
          "Operator actions (who, when, why, which pod, which PostgreSQL users), newest first."
              + " Window (since, until) on the time they were recorded; pages as for credentials."
              + " RBAC verb: list, in the namespace or in all namespaces.")
  @ApiResponse(responseCode = "200", description = "Audit events, newest first")
  ItemLists.AuditEventList auditEvents(
      @Parameter(hidden = true) @RequestAttribute(AdminAuthentication.USER) KubernetesUser user,
      @RequestParam(required = false) @Nullable String namespace,
      @RequestParam(required = false) @Nullable String pod,
      @Parameter(description = "Recorded at or after this RFC 3339 time")
          @RequestParam(required = false)
          @Nullable String since,
      @Parameter(description = "Recorded before this RFC 3339 time") @RequestParam(required = false)
          @Nullable String until,
      @Parameter(description = "nextCursor of the previous page") @RequestParam(required = false)
          @Nullable String cursor,
      @RequestParam(defaultValue = "100") int limit) {
    String ns = KubernetesNames.optionalNamespace(namespace);
    String podName = KubernetesNames.optionalPodName(pod);
    ListSlice slice =
        ListParameters.slice(
            ListParameters.Kind.AUDIT_EVENTS, since, until, cursor, limit, MAX_LIMIT);
    access.authorize(user, AdminVerb.LIST, ns);
    ListParameters.Page<AuditEvent> page =
        ListParameters.page(
            ListParameters.Kind.AUDIT_EVENTS,
            store.audit(ns, podName, slice.oneMore()),
            slice,
            e -> new ListSlice.Position(e.time(), Long.toString(e.id())));
    return new ItemLists.AuditEventList(page.items(), page.nextCursor());
  }

  /**
   * The credential {@code id}, once {@code user} may perform {@code verb} in its namespace. A
   * caller who may not act in every namespace gets the same 403, without a namespace, whether the
   * credential is in a namespace not theirs or does not exist, so that the answers cannot tell
   * which IDs exist or where; only a caller allowed in all namespaces learns that an ID is unknown
   * (404).
   */
  private AuthorizedCredential authorizedCredential(KubernetesUser user, AdminVerb verb, UUID id) {
    Optional<CredentialSummary> credential = revocations.findCredential(id);
    if (credential.isEmpty() || !access.allowed(user, verb, credential.get().namespace())) {
      AdminCaller everywhere = access.authorizeWithoutNamespace(user, verb);
      return new AuthorizedCredential(revocations.find(id), everywhere);
    }
    return new AuthorizedCredential(credential.get(), new AdminCaller(user.username()));
  }

  private record AuthorizedCredential(CredentialSummary credential, AdminCaller caller) {}

  private static UUID credentialId(String value) {
    try {
      if (value.length() == 36) {
        return UUID.fromString(value);
      }
    } catch (IllegalArgumentException e) {
      // fall through to the clear message below
    }
    throw new BrokerException(Reason.INVALID_REQUEST, "credentialId must be a UUID");
  }

  /** The body is optional on the wire only so that authentication is checked first. */
  private static String reason(@Nullable RevocationRequest request) {
    if (request == null) {
      throw new BrokerException(
          BrokerException.Reason.INVALID_REQUEST, "a JSON body with a \"reason\" is required");
    }
    return auditReason(request.reason());
  }

  /**
   * An operator's reason as the audit trail keeps it: stripped of white space, and saying something
   * in letters or digits. Neither bean validation's {@code @NotBlank} nor {@link String#strip()}
   * counts a no-break space as white space, so a reason of those alone would otherwise be audited
   * as a blank one.
   */
  private static String auditReason(String reason) {
    String stripped = reason.strip();
    if (stripped.codePoints().noneMatch(Character::isLetterOrDigit)) {
      throw new BrokerException(
          Reason.INVALID_REQUEST, "the reason must say why, in letters or digits");
    }
    return stripped;
  }
}
