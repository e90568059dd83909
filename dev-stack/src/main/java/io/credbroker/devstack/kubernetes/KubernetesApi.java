package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Handler;
import io.credbroker.devstack.http.HttpRequest;
import io.credbroker.devstack.http.HttpResponse;
import io.credbroker.devstack.http.Json;
import io.credbroker.devstack.http.Router;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The wire side of the stand-in: routes, caller authentication (admin token or service-account
 * token), RBAC authorization, and translation between JSON bodies and the store, token and RBAC
 * classes. Request bodies may carry tokens, so they are never logged.
 *
 * <p>Built once; thread-safe because everything it holds is.
 */
final class KubernetesApi implements Handler {

  private static final Logger log = LoggerFactory.getLogger(KubernetesApi.class);

  static final String AUTHN_GROUP = "authentication.k8s.io";
  static final String AUTHZ_GROUP = "authorization.k8s.io";
  static final String GIT_VERSION = "v1.33.0";
  private static final long MIN_EXPIRATION_SECONDS = 600;
  private static final long MAX_EXPIRATION_SECONDS = 1L << 32;

  private final ClusterStore store;
  private final ServiceAccountTokens tokens;
  private final RbacPolicy rbac;
  private final byte[] adminToken;
  private final StaticTokens people;
  private final Clock clock;
  private final Function<String, String> jwksUri;
  private final Router router = new Router();
  private final AtomicLong tokenReviews = new AtomicLong();
  private volatile Duration bookmarkInterval = Duration.ofSeconds(10);
  private volatile boolean watchesRefused;

  /** The shortest a watch without {@code timeoutSeconds} lasts; the longest is twice that. */
  static final Duration MIN_REQUEST_TIMEOUT = Duration.ofMinutes(5);

  KubernetesApi(
      ClusterStore store,
      ServiceAccountTokens tokens,
      RbacPolicy rbac,
      String adminToken,
      StaticTokens people,
      Clock clock,
      Function<String, String> jwksUri) {
    this.store = store;
    this.tokens = tokens;
    this.rbac = rbac;
    this.adminToken = adminToken.getBytes(StandardCharsets.UTF_8);
    this.people = people;
    this.clock = clock;
    this.jwksUri = jwksUri;
    routes();
  }

  // ---------------------------------------------------------------- routing

  /** One route's authorization attributes; null for the public paths. */
  private interface Attributes {
    @Nullable RequestAttributes of(HttpRequest request);
  }

  private interface Action {
    HttpResponse run(HttpRequest request, UserInfo caller);
  }

  private void add(String method, String pattern, Attributes attributes, Action action) {
    router.route(method, pattern, request -> serve(request, attributes, action));
  }

  private void routes() {
    Attributes open = request -> null;
    add("GET", "/version", open, (r, u) -> HttpResponse.json(200, Discovery.version()));
    for (String probe : List.of("/healthz", "/livez", "/readyz")) {
      add("GET", probe, open, (r, u) -> text(200, "ok"));
    }
    // As kube-apiserver's: for authenticated callers the default RBAC allows (ClusterRole
    // system:service-account-issuer-discovery, bound to every service account), not anonymous ones.
    add(
        "GET",
        "/.well-known/openid-configuration",
        nonResource(),
        (r, u) -> openidConfiguration(r));
    add("GET", "/openid/v1/jwks", nonResource(), (r, u) -> jwks());

    add(
        "GET",
        "/api",
        nonResource(),
        (r, u) -> HttpResponse.json(200, Discovery.apiVersions(r.header("host"))));
    add(
        "GET",
        "/api/v1",
        nonResource(),
        (r, u) -> HttpResponse.json(200, Discovery.coreResources()));
    add("GET", "/apis", nonResource(), (r, u) -> HttpResponse.json(200, Discovery.groupList()));
    for (String group : List.of(AUTHN_GROUP, AUTHZ_GROUP)) {
      add(
          "GET",
          "/apis/" + group,
          nonResource(),
          (r, u) -> HttpResponse.json(200, Discovery.group(group)));
      add(
          "GET",
          "/apis/" + group + "/v1",
          nonResource(),
          (r, u) -> HttpResponse.json(200, Discovery.groupResources(group)));
    }

    add(
        "GET",
        "/api/v1/namespaces",
        core("list", "namespaces", null, null),
        (r, u) -> list(ResourceKind.NAMESPACE, null, r));
    add(
        "POST",
        "/api/v1/namespaces",
        core("create", "namespaces", null, null),
        (r, u) -> create(ResourceKind.NAMESPACE, null, r));
    add(
        "GET",
        "/api/v1/namespaces/{name}",
        core("get", "namespaces", null, "name"),
        (r, u) ->
            HttpResponse.json(200, store.get(ResourceKind.NAMESPACE, null, r.pathParam("name"))));
    add(
        "DELETE",
        "/api/v1/namespaces/{name}",
        core("delete", "namespaces", null, "name"),
        (r, u) ->
            HttpResponse.json(
                200, store.delete(ResourceKind.NAMESPACE, null, r.pathParam("name"))));

    for (ResourceKind kind : List.of(ResourceKind.SERVICE_ACCOUNT, ResourceKind.POD)) {
      String collection = "/api/v1/namespaces/{namespace}/" + kind.resource;
      add(
          "GET",
          "/api/v1/" + kind.resource,
          core("list", kind.resource, null, null),
          (r, u) -> list(kind, null, r));
      add(
          "GET",
          collection,
          core("list", kind.resource, "namespace", null),
          (r, u) -> list(kind, r.pathParam("namespace"), r));
      add(
          "POST",
          collection,
          core("create", kind.resource, "namespace", null),
          (r, u) -> create(kind, r.pathParam("namespace"), r));
      add(
          "GET",
          collection + "/{name}",
          core("get", kind.resource, "namespace", "name"),
          (r, u) ->
              HttpResponse.json(
                  200, store.get(kind, r.pathParam("namespace"), r.pathParam("name"))));
      add(
          "DELETE",
          collection + "/{name}",
          core("delete", kind.resource, "namespace", "name"),
          (r, u) ->
              HttpResponse.json(
                  200, store.delete(kind, r.pathParam("namespace"), r.pathParam("name"))));
    }
    add(
        "POST",
        "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        request ->
            RequestAttributes.resource(
                "create",
                "",
                "serviceaccounts",
                "token",
                request.pathParam("name"),
                request.pathParam("namespace")),
        (r, u) -> tokenRequest(r));

    add(
        "POST",
        "/apis/" + AUTHN_GROUP + "/v1/tokenreviews",
        cluster("create", AUTHN_GROUP, "tokenreviews"),
        (r, u) -> tokenReview(r));
    add(
        "POST",
        "/apis/" + AUTHN_GROUP + "/v1/selfsubjectreviews",
        cluster("create", AUTHN_GROUP, "selfsubjectreviews"),
        (r, u) -> selfSubjectReview(u));
    add(
        "POST",
        "/apis/" + AUTHZ_GROUP + "/v1/subjectaccessreviews",
        cluster("create", AUTHZ_GROUP, "subjectaccessreviews"),
        (r, u) -> subjectAccessReview(r, null));
    add(
        "POST",
        "/apis/" + AUTHZ_GROUP + "/v1/namespaces/{namespace}/localsubjectaccessreviews",
        request ->
            RequestAttributes.resource(
                "create",
                AUTHZ_GROUP,
                "localsubjectaccessreviews",
                "",
                "",
                request.pathParam("namespace")),
        (r, u) -> subjectAccessReview(r, r.pathParam("namespace")));
    add(
        "POST",
        "/apis/" + AUTHZ_GROUP + "/v1/selfsubjectaccessreviews",
        cluster("create", AUTHZ_GROUP, "selfsubjectaccessreviews"),
        (r, u) -> selfSubjectAccessReview(r, u));
  }

  private static Attributes nonResource() {
    return request -> RequestAttributes.nonResource("get", request.path());
  }

  private static Attributes cluster(String verb, String group, String resource) {
    return request -> RequestAttributes.resource(verb, group, resource, "", "", "");
  }

  private static Attributes core(
      String verb, String resource, @Nullable String namespaceParam, @Nullable String nameParam) {
    return request -> {
      String effectiveVerb = verb;
      if (verb.equals("list") && isWatch(request)) {
        effectiveVerb = "watch";
      }
      return RequestAttributes.resource(
          effectiveVerb,
          "",
          resource,
          "",
          nameParam == null ? "" : request.pathParam(nameParam),
          namespaceParam == null ? "" : request.pathParam(namespaceParam));
    };
  }

  @Override
  public HttpResponse handle(HttpRequest request) {
    Router.Match match = router.match(request.method(), request.path());
    if (match.found()) {
      try {
        return match.handler().handle(request.withPathParams(match.pathParams()));
      } catch (Exception e) {
        log.error("unexpected error serving {} {}", request.method(), request.path(), e);
        return HttpResponse.json(500, internalError());
      }
    }
    try {
      authenticate(request);
    } catch (ApiException e) {
      return status(e);
    }
    if (!match.allowedMethods().isEmpty()) {
      return status(
          ApiException.methodNotAllowed(
              "the server does not allow this method on the requested resource"));
    }
    return status(ApiException.pathNotFound());
  }

  private HttpResponse serve(HttpRequest request, Attributes attributes, Action action) {
    try {
      RequestAttributes requested = attributes.of(request);
      UserInfo caller;
      if (requested == null) {
        caller = new UserInfo("system:anonymous", "", List.of("system:unauthenticated"), Map.of());
      } else {
        caller = impersonated(request, authenticate(request));
        authorize(caller, requested);
        request = withJsonBody(request);
      }
      return action.run(request, caller);
    } catch (ApiException e) {
      return status(e);
    } catch (HttpRequest.MalformedBodyException e) {
      return status(ApiException.badRequest(e.getMessage()));
    }
  }

  /**
   * The request with a JSON body. Protobuf bodies of the review and token kinds are converted
   * (kubectl sends those); other media types get the real server's 415.
   */
  private static HttpRequest withJsonBody(HttpRequest request) {
    if (request.body().length == 0) {
      return request;
    }
    String contentType = request.header("content-type");
    String mediaType =
        contentType == null
            ? ""
            : contentType.split(";", 2)[0].trim().toLowerCase(java.util.Locale.ROOT);
    if (mediaType.isEmpty()
        || mediaType.equals("application/json")
        || mediaType.endsWith("+json")) {
      return request;
    }
    if (mediaType.equals(ProtobufBodies.MEDIA_TYPE)) {
      byte[] json =
          ProtobufBodies.toJson(request.body()).toString().getBytes(StandardCharsets.UTF_8);
      return new HttpRequest(
          request.method(),
          request.path(),
          request.query(),
          request.headers(),
          json,
          request.pathParams());
    }
    throw ApiException.unsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: application/json,"
            + " application/vnd.kubernetes.protobuf");
  }

  private UserInfo authenticate(HttpRequest request) {
    String header = request.header("authorization");
    if (header == null || header.length() < 7 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw ApiException.unauthorized();
    }
    String token = header.substring(7).trim();
    if (token.isEmpty()) {
      throw ApiException.unauthorized();
    }
    if (MessageDigest.isEqual(adminToken, token.getBytes(StandardCharsets.UTF_8))) {
      return UserInfo.admin();
    }
    UserInfo person = people.authenticate(token);
    if (person != null) {
      return person;
    }
    TokenReviewOutcome outcome = tokens.review(token, List.of(ServiceAccountTokens.ISSUER));
    if (outcome.user() == null) {
      throw ApiException.unauthorized();
    }
    return outcome.user();
  }

  /**
   * Applies {@code Impersonate-User}/{@code Impersonate-Group} (what {@code kubectl --as} sends)
   * after checking the real caller may {@code impersonate} each of them.
   */
  private UserInfo impersonated(HttpRequest request, UserInfo caller) {
    String user = request.header("impersonate-user");
    List<String> groups = request.headers().getOrDefault("impersonate-group", List.of());
    if (user == null || user.isEmpty()) {
      if (!groups.isEmpty()) {
        throw ApiException.badRequest(
            "requested [" + String.join(" ", groups) + "] without impersonating a user");
      }
      return caller;
    }
    List<String> effectiveGroups = new ArrayList<>(groups);
    String[] serviceAccount = user.startsWith("system:serviceaccount:") ? user.split(":", 4) : null;
    if (serviceAccount != null && serviceAccount.length == 4) {
      authorize(
          caller,
          RequestAttributes.resource(
              "impersonate", "", "serviceaccounts", "", serviceAccount[3], serviceAccount[2]));
      if (groups.isEmpty()) {
        effectiveGroups.add("system:serviceaccounts");
        effectiveGroups.add("system:serviceaccounts:" + serviceAccount[2]);
      }
    } else {
      authorize(caller, RequestAttributes.resource("impersonate", "", "users", "", user, ""));
    }
    for (String group : groups) {
      authorize(caller, RequestAttributes.resource("impersonate", "", "groups", "", group, ""));
    }
    if (!user.equals("system:anonymous") && !effectiveGroups.contains(UserInfo.AUTHENTICATED)) {
      effectiveGroups.add(UserInfo.AUTHENTICATED);
    }
    return new UserInfo(user, "", effectiveGroups, Map.of());
  }

  private void authorize(UserInfo caller, RequestAttributes request) {
    if (caller.isPrivileged()) {
      return;
    }
    if (!rbac.authorize(caller.username(), caller.groups(), request).allowed()) {
      throw ApiException.forbidden(
          request.apiGroup(),
          request.resource(),
          request.name(),
          request.forbiddenMessage(caller.username()));
    }
  }

  // ---------------------------------------------------------------- core/v1

  private HttpResponse list(ResourceKind kind, @Nullable String namespace, HttpRequest request) {
    if (isWatch(request)) {
      return watch(kind, namespace, request);
    }
    // Like a real server, listing in a namespace that does not exist answers an empty list.
    return HttpResponse.json(
        200,
        store.list(
            kind,
            namespace,
            emptyToNull(request.queryParam("labelSelector")),
            emptyToNull(request.queryParam("fieldSelector"))));
  }

  private HttpResponse create(ResourceKind kind, @Nullable String namespace, HttpRequest request) {
    JsonNode body = request.json();
    if (!body.isObject()) {
      throw ApiException.badRequest("the body of the request was in an unknown format");
    }
    String bodyKind = body.path("kind").asText("");
    if (!bodyKind.isEmpty() && !bodyKind.equals(kind.kind)) {
      throw ApiException.badRequest(
          "the kind in the request body ("
              + bodyKind
              + ") does not match the resource ("
              + kind.kind
              + ")");
    }
    return HttpResponse.json(201, store.create(kind, namespace, (ObjectNode) body));
  }

  /**
   * A watch ({@code ?watch=true} on a collection): 200 with a chunked body of newline-delimited
   * events. Errors found before the stream starts (a bad selector or resourceVersion) are a plain
   * Status response; a resourceVersion too old for the history is an ERROR event in the stream, as
   * the real server's watch cache answers it. Without {@code timeoutSeconds} the watch lasts
   * between {@link #MIN_REQUEST_TIMEOUT} and twice that, as the real server picks it (there from
   * {@code --min-request-timeout}, 1800 s by default; shorter here so abandoned watches free their
   * worker sooner).
   */
  private HttpResponse watch(ResourceKind kind, @Nullable String namespace, HttpRequest request) {
    String upgrade = request.header("upgrade");
    if (upgrade != null && upgrade.equalsIgnoreCase("websocket")) {
      // The real server also serves watches over WebSocket; this one only over plain HTTP. A
      // client that tries WebSocket first (fabric8) falls back to an HTTP watch on a 503 answer,
      // as it does behind kubectl proxy.
      return status(
          ApiException.serviceUnavailable(
              "watch over WebSocket is not supported by the dev-stack API server;"
                  + " watch over HTTP instead"));
    }
    if (watchesRefused) {
      // What the real server answers while its watch cache (re)initializes.
      return status(ApiException.tooManyRequests("storage is (re)initializing"))
          .withHeader("Retry-After", "1");
    }
    Duration timeout;
    String timeoutSeconds = emptyToNull(request.queryParam("timeoutSeconds"));
    if (timeoutSeconds != null) {
      try {
        timeout = Duration.ofSeconds(Long.parseLong(timeoutSeconds));
      } catch (NumberFormatException e) {
        throw ApiException.badRequest("invalid value for timeoutSeconds: " + timeoutSeconds);
      }
    } else {
      long min = MIN_REQUEST_TIMEOUT.toSeconds();
      timeout =
          Duration.ofSeconds(min + java.util.concurrent.ThreadLocalRandom.current().nextLong(min));
    }
    boolean bookmarks = "true".equals(request.queryParam("allowWatchBookmarks"));
    Watch watch =
        store.watch(
            kind,
            namespace,
            emptyToNull(request.queryParam("labelSelector")),
            emptyToNull(request.queryParam("fieldSelector")),
            emptyToNull(request.queryParam("resourceVersion")));
    return HttpResponse.streaming(
        200,
        Map.of("Content-Type", "application/json", "Cache-Control", "no-cache, private"),
        new WatchStreamer(store, watch, timeout, bookmarks ? bookmarkInterval : null));
  }

  /** Ends every open watch and answers new ones 429 until {@link #resumeWatches}. */
  void interruptWatches() {
    watchesRefused = true;
    store.endWatches();
  }

  void resumeWatches() {
    watchesRefused = false;
  }

  /** Sets how often a watch that allows bookmarks gets one (tests make it short). */
  void bookmarkInterval(Duration interval) {
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval must be positive, was " + interval);
    }
    this.bookmarkInterval = interval;
  }

  // ---------------------------------------------------------------- TokenRequest

  private HttpResponse tokenRequest(HttpRequest request) {
    String namespace = request.pathParam("namespace");
    String serviceAccount = request.pathParam("name");
    JsonNode body = request.json();
    JsonNode spec = body.path("spec");
    long expirationSeconds =
        spec.path("expirationSeconds").isNumber() ? spec.path("expirationSeconds").asLong() : 3600;
    if (expirationSeconds < MIN_EXPIRATION_SECONDS) {
      throw ApiException.invalid(
          AUTHN_GROUP,
          "TokenRequest",
          serviceAccount,
          "spec.expirationSeconds",
          Long.toString(expirationSeconds),
          "may not specify a duration less than 10 minutes");
    }
    if (expirationSeconds > MAX_EXPIRATION_SECONDS) {
      throw ApiException.invalid(
          AUTHN_GROUP,
          "TokenRequest",
          serviceAccount,
          "spec.expirationSeconds",
          Long.toString(expirationSeconds),
          "may not specify a duration larger than 2^32 seconds");
    }
    List<String> audiences = strings(spec.path("audiences"));
    if (audiences.isEmpty()) {
      audiences = List.of(ServiceAccountTokens.ISSUER);
    }
    JsonNode ref = spec.path("boundObjectRef");
    String podName = null;
    if (ref.isObject() && !ref.isEmpty()) {
      String refKind = ref.path("kind").asText("");
      String refApiVersion = ref.path("apiVersion").asText("v1");
      if (!refKind.equals("Pod") || !(refApiVersion.isEmpty() || refApiVersion.equals("v1"))) {
        throw ApiException.badRequest(
            "cannot bind token to object of type " + gvk(refApiVersion, refKind));
      }
      podName = ref.path("name").asText("");
    }
    Minted minted =
        mint(
            namespace,
            serviceAccount,
            podName,
            ref.path("uid").asText(""),
            audiences,
            Duration.ofSeconds(expirationSeconds));

    ObjectNode response = Json.MAPPER.createObjectNode();
    response.put("kind", "TokenRequest");
    response.put("apiVersion", AUTHN_GROUP + "/v1");
    response
        .putObject("metadata")
        .put("name", serviceAccount)
        .put("namespace", namespace)
        .put("creationTimestamp", clock.instant().truncatedTo(ChronoUnit.SECONDS).toString());
    ObjectNode outSpec = response.putObject("spec");
    ArrayNode auds = outSpec.putArray("audiences");
    audiences.forEach(auds::add);
    outSpec.put("expirationSeconds", expirationSeconds);
    if (podName != null) {
      outSpec
          .putObject("boundObjectRef")
          .put("kind", "Pod")
          .put("apiVersion", "v1")
          .put("name", podName)
          .put("uid", minted.podUid());
    } else {
      outSpec.putNull("boundObjectRef");
    }
    response
        .putObject("status")
        .put("token", minted.token().token())
        .put("expirationTimestamp", minted.token().expiration().toString());
    return HttpResponse.json(201, response);
  }

  record Minted(IssuedToken token, @Nullable String podUid) {}

  /**
   * Checks a token request against the store and signs it: the service account must exist, and a
   * bound pod must exist, run as that service account, and have the given UID if one is given.
   */
  Minted mint(
      String namespace,
      String serviceAccount,
      @Nullable String podName,
      String expectedPodUid,
      List<String> audiences,
      Duration ttl) {
    ObjectNode sa = store.find(ResourceKind.SERVICE_ACCOUNT, namespace, serviceAccount);
    if (sa == null) {
      throw ApiException.notFound("", "serviceaccounts", serviceAccount);
    }
    String saUid = sa.path("metadata").path("uid").asText();
    String podUid = null;
    if (podName != null) {
      ObjectNode pod = store.find(ResourceKind.POD, namespace, podName);
      if (pod == null) {
        throw ApiException.notFound("", "pods", podName);
      }
      podUid = pod.path("metadata").path("uid").asText();
      if (!expectedPodUid.isEmpty() && !expectedPodUid.equals(podUid)) {
        throw ApiException.conflict(
            "",
            "Pod",
            podName,
            "the UID in the bound object reference ("
                + expectedPodUid
                + ") does not match the UID in record."
                + " The object might have been deleted and then recreated");
      }
      if (!serviceAccount.equals(pod.path("spec").path("serviceAccountName").asText())) {
        throw ApiException.badRequest(
            "cannot bind token for serviceaccount \""
                + serviceAccount
                + "\" to pod running with different serviceaccount name.");
      }
    }
    IssuedToken token =
        tokens.issue(namespace, serviceAccount, saUid, podName, podUid, audiences, ttl);
    return new Minted(token, podUid);
  }

  // ---------------------------------------------------------------- TokenReview

  /** How many TokenReview requests reached the handler (authorised, whatever their outcome). */
  long tokenReviewCount() {
    return tokenReviews.get();
  }

  private HttpResponse tokenReview(HttpRequest request) {
    tokenReviews.incrementAndGet();
    JsonNode body = request.json();
    if (!body.isObject()) {
      throw ApiException.badRequest("the body of the request was in an unknown format");
    }
    JsonNode spec = body.path("spec");
    String token = spec.path("token").asText("");
    if (token.isEmpty()) {
      throw ApiException.badRequest("token is required for TokenReview in authentication");
    }
    List<String> requested = strings(spec.path("audiences"));
    List<String> targets = requested.isEmpty() ? List.of(ServiceAccountTokens.ISSUER) : requested;
    UserInfo person = people.authenticate(token);
    // A person's static token is good for the API server's own audience only (audagnostic.go);
    // asked for other audiences, it is not a token this server knows.
    TokenReviewOutcome outcome =
        person != null && targets.contains(ServiceAccountTokens.ISSUER)
            ? TokenReviewOutcome.authenticated(person, List.of(ServiceAccountTokens.ISSUER))
            : tokens.review(token, targets);

    ObjectNode response = Json.MAPPER.createObjectNode();
    response.put("kind", "TokenReview");
    response.put("apiVersion", AUTHN_GROUP + "/v1");
    response.set("metadata", echoedMetadata(body));
    ObjectNode outSpec = response.putObject("spec");
    outSpec.put("token", token);
    if (!requested.isEmpty()) {
      ArrayNode auds = outSpec.putArray("audiences");
      requested.forEach(auds::add);
    }
    ObjectNode status = response.putObject("status");
    if (outcome.user() != null) {
      status.put("authenticated", true);
      status.set("user", userJson(outcome.user()));
      ArrayNode auds = status.putArray("audiences");
      outcome.audiences().forEach(auds::add);
    } else {
      status.putObject("user");
      status.put("error", outcome.error());
    }
    return HttpResponse.json(201, response);
  }

  private HttpResponse selfSubjectReview(UserInfo caller) {
    ObjectNode response = Json.MAPPER.createObjectNode();
    response.put("kind", "SelfSubjectReview");
    response.put("apiVersion", AUTHN_GROUP + "/v1");
    response
        .putObject("metadata")
        .put("creationTimestamp", clock.instant().truncatedTo(ChronoUnit.SECONDS).toString());
    response.putObject("status").set("userInfo", userJson(caller));
    return HttpResponse.json(201, response);
  }

  // ---------------------------------------------------------------- SubjectAccessReview

  private HttpResponse subjectAccessReview(HttpRequest request, @Nullable String localNamespace) {
    JsonNode body = request.json();
    if (!body.isObject()) {
      throw ApiException.badRequest("the body of the request was in an unknown format");
    }
    String kind = localNamespace == null ? "SubjectAccessReview" : "LocalSubjectAccessReview";
    JsonNode metadata = body.path("metadata");
    if (localNamespace != null) {
      String bodyNamespace = metadata.path("namespace").asText("");
      if (!bodyNamespace.isEmpty() && !bodyNamespace.equals(localNamespace)) {
        throw ApiException.badRequest(
            "the namespace of the provided object does not match the namespace sent on the request");
      }
    }
    for (var it = metadata.fields(); it.hasNext(); ) {
      var field = it.next();
      boolean allowedField =
          field.getKey().equals("creationTimestamp")
              || (localNamespace != null && field.getKey().equals("namespace"));
      if (!allowedField
          && !field.getValue().isNull()
          && !(field.getValue().isContainerNode() && field.getValue().isEmpty())
          && !(field.getValue().isTextual() && field.getValue().asText().isEmpty())) {
        throw ApiException.invalid(
            AUTHZ_GROUP, kind, "", "metadata", metadata.toString(), "must be empty");
      }
    }
    JsonNode spec = body.path("spec");
    JsonNode resourceAttributes = spec.get("resourceAttributes");
    JsonNode nonResourceAttributes = spec.get("nonResourceAttributes");
    boolean hasResource = resourceAttributes != null && resourceAttributes.isObject();
    boolean hasNonResource = nonResourceAttributes != null && nonResourceAttributes.isObject();
    if (localNamespace != null) {
      if (hasNonResource) {
        throw ApiException.invalid(
            AUTHZ_GROUP,
            kind,
            "",
            "spec.nonResourceAttributes",
            nonResourceAttributes.toString(),
            "disallowed on this kind of request");
      }
      if (hasResource && !resourceAttributes.path("namespace").asText("").equals(localNamespace)) {
        throw ApiException.invalid(
            AUTHZ_GROUP,
            kind,
            "",
            "spec.resourceAttributes.namespace",
            ClusterStore.quote(resourceAttributes.path("namespace").asText("")),
            "must match metadata.namespace");
      }
    }
    if (hasResource && hasNonResource) {
      throw ApiException.invalid(
          AUTHZ_GROUP,
          kind,
          "",
          "spec.nonResourceAttributes",
          nonResourceAttributes.toString(),
          "cannot be specified in combination with resourceAttributes");
    }
    if (!hasResource && !hasNonResource) {
      throw ApiException.invalid(
          AUTHZ_GROUP,
          kind,
          "",
          "spec.resourceAttributes",
          "null",
          "exactly one of nonResourceAttributes or resourceAttributes must be specified");
    }
    String user = spec.path("user").asText("");
    List<String> groups = strings(spec.path("groups"));
    if (user.isEmpty() && groups.isEmpty()) {
      throw ApiException.invalid(
          AUTHZ_GROUP,
          kind,
          "",
          "spec.user",
          "\"\"",
          "at least one of user or group must be specified");
    }
    RbacPolicy.Decision decision = decide(user, groups, attributesOf(spec));
    ObjectNode response = Json.MAPPER.createObjectNode();
    response.put("kind", kind);
    response.put("apiVersion", AUTHZ_GROUP + "/v1");
    ObjectNode outMetadata = echoedMetadata(body);
    if (localNamespace != null) {
      outMetadata.put("namespace", localNamespace);
    }
    response.set("metadata", outMetadata);
    response.set("spec", spec.deepCopy());
    response.set("status", statusJson(decision));
    return HttpResponse.json(201, response);
  }

  private HttpResponse selfSubjectAccessReview(HttpRequest request, UserInfo caller) {
    JsonNode body = request.json();
    JsonNode spec = body.path("spec");
    boolean hasResource = spec.path("resourceAttributes").isObject();
    boolean hasNonResource = spec.path("nonResourceAttributes").isObject();
    if (hasResource == hasNonResource) {
      throw ApiException.invalid(
          AUTHZ_GROUP,
          "SelfSubjectAccessReview",
          "",
          "spec.resourceAttributes",
          "null",
          "exactly one of nonResourceAttributes or resourceAttributes must be specified");
    }
    RbacPolicy.Decision decision = decide(caller.username(), caller.groups(), attributesOf(spec));
    ObjectNode response = Json.MAPPER.createObjectNode();
    response.put("kind", "SelfSubjectAccessReview");
    response.put("apiVersion", AUTHZ_GROUP + "/v1");
    response.set("metadata", echoedMetadata(body));
    response.set("spec", spec.deepCopy());
    response.set("status", statusJson(decision));
    return HttpResponse.json(201, response);
  }

  private RbacPolicy.Decision decide(
      String user, List<String> groups, RequestAttributes attributes) {
    if (groups.contains(UserInfo.MASTERS)) {
      // The privileged-group authorizer runs before RBAC and gives no reason.
      return new RbacPolicy.Decision(true, "");
    }
    return rbac.authorize(user, groups, attributes);
  }

  private static RequestAttributes attributesOf(JsonNode spec) {
    JsonNode resource = spec.get("resourceAttributes");
    if (resource != null && resource.isObject()) {
      return RequestAttributes.resource(
          resource.path("verb").asText(""),
          resource.path("group").asText(""),
          resource.path("resource").asText(""),
          resource.path("subresource").asText(""),
          resource.path("name").asText(""),
          resource.path("namespace").asText(""));
    }
    JsonNode nonResource = spec.path("nonResourceAttributes");
    return RequestAttributes.nonResource(
        nonResource.path("verb").asText(""), nonResource.path("path").asText(""));
  }

  private static ObjectNode statusJson(RbacPolicy.Decision decision) {
    ObjectNode status = Json.MAPPER.createObjectNode();
    status.put("allowed", decision.allowed());
    if (!decision.reason().isEmpty()) {
      status.put("reason", decision.reason());
    }
    return status;
  }

  // ---------------------------------------------------------------- OIDC discovery

  private HttpResponse openidConfiguration(HttpRequest request) {
    ObjectNode config = Json.MAPPER.createObjectNode();
    config.put("issuer", ServiceAccountTokens.ISSUER);
    config.put("jwks_uri", jwksUri.apply(""));
    config.putArray("response_types_supported").add("id_token");
    config.putArray("subject_types_supported").add("public");
    config.putArray("id_token_signing_alg_values_supported").add("RS256");
    return HttpResponse.json(200, config).withHeader("Cache-Control", "public, max-age=3600");
  }

  private HttpResponse jwks() {
    return new HttpResponse(
        200,
        Map.of("Content-Type", "application/jwk-set+json", "Cache-Control", "public, max-age=3600"),
        tokens.jwksJson().getBytes(StandardCharsets.UTF_8));
  }

  // ---------------------------------------------------------------- helpers

  static ObjectNode userJson(UserInfo user) {
    ObjectNode json = Json.MAPPER.createObjectNode();
    json.put("username", user.username());
    if (!user.uid().isEmpty()) {
      json.put("uid", user.uid());
    }
    ArrayNode groups = json.putArray("groups");
    user.groups().forEach(groups::add);
    if (!user.extra().isEmpty()) {
      ObjectNode extra = json.putObject("extra");
      user.extra()
          .forEach(
              (k, v) -> {
                ArrayNode values = extra.putArray(k);
                v.forEach(values::add);
              });
    }
    return json;
  }

  private static ObjectNode echoedMetadata(JsonNode body) {
    ObjectNode metadata =
        body.path("metadata").isObject()
            ? ((ObjectNode) body.get("metadata")).deepCopy()
            : Json.MAPPER.createObjectNode();
    metadata.putNull("creationTimestamp");
    return metadata;
  }

  private static String gvk(String apiVersion, String kind) {
    int slash = apiVersion.indexOf('/');
    String group = slash < 0 ? "" : apiVersion.substring(0, slash);
    String version = slash < 0 ? apiVersion : apiVersion.substring(slash + 1);
    return group + "/" + version + ", Kind=" + kind;
  }

  private static boolean isWatch(HttpRequest request) {
    String watch = request.queryParam("watch");
    return watch != null && (watch.equals("true") || watch.equals("1"));
  }

  private static List<String> strings(JsonNode node) {
    List<String> values = new ArrayList<>();
    if (node.isArray()) {
      node.forEach(v -> values.add(v.asText()));
    }
    return values;
  }

  private static @Nullable String emptyToNull(@Nullable String value) {
    return value == null || value.isEmpty() ? null : value;
  }

  private static HttpResponse status(ApiException e) {
    return HttpResponse.json(e.code(), e.toStatus());
  }

  private static ObjectNode internalError() {
    ObjectNode status = Json.MAPPER.createObjectNode();
    status.put("kind", "Status").put("apiVersion", "v1");
    status.putObject("metadata");
    status
        .put("status", "Failure")
        .put("message", "an internal error occurred")
        .put("reason", "InternalError")
        .put("code", 500);
    return status;
  }

  private static HttpResponse text(int status, String body) {
    return new HttpResponse(
        status,
        Map.of("Content-Type", "text/plain; charset=utf-8"),
        body.getBytes(StandardCharsets.UTF_8));
  }
}
