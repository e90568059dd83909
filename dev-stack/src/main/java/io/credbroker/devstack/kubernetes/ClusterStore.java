package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The in-memory object store: namespaces, service accounts and pods as JSON objects with the
 * metadata the real API server assigns (uid, resourceVersion, creationTimestamp).
 *
 * <p>Every change is also kept as a watch event (ADDED or DELETED, with the object as it was at
 * that resourceVersion) in a bounded history, and queued to the open {@link Watch}es that select
 * it. A watch from a resourceVersion older than the history gets 410 Gone, as from the real API
 * server once etcd has compacted that revision or the watch cache has dropped it.
 *
 * <p>Thread-safe: every method holds this object's monitor, so a token review sees a consistent
 * view and a delete is visible to the next review; events reach each watch in resourceVersion
 * order. Objects handed out are copies.
 */
final class ClusterStore {

  /** The node every pod is scheduled to; tokens of pods carry it as the real kubelet's do. */
  static final String NODE_NAME = "dev-node";

  private static final Set<String> UNDELETABLE_NAMESPACES =
      Set.of("default", "kube-system", "kube-public");
  private static final Pattern DNS1123_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final String GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Clock clock;
  private final String nodeUid = UUID.randomUUID().toString();

  // Guarded by this. Key: name for cluster-scoped kinds, "namespace/name" for namespaced ones;
  // TreeMap so lists come back sorted by namespace and name, as etcd's key order gives them.
  private final Map<ResourceKind, TreeMap<String, ObjectNode>> objects =
      new EnumMap<>(ResourceKind.class);
  private long resourceVersion = 100;
  private int podIpCounter = 1;

  // Guarded by this. The watch history: every event after compactedVersion, oldest first.
  private final Deque<Event> history = new ArrayDeque<>();
  private long compactedVersion = 0;
  private long expiredWatches = 0;
  private int historyLimit = DEFAULT_HISTORY_LIMIT;
  private final List<Watch> watches = new ArrayList<>();

  /** How many events the store keeps for watches that resume from a resourceVersion. */
  static final int DEFAULT_HISTORY_LIMIT = 1000;

  /** One change: its type, the kind of object, and the object at its resourceVersion. */
  private record Event(long version, String type, ResourceKind kind, ObjectNode object) {}

  ClusterStore(Clock clock) {
    this.clock = clock;
    for (ResourceKind kind : ResourceKind.values()) {
      objects.put(kind, new TreeMap<>());
    }
  }

  String nodeUid() {
    return nodeUid;
  }

  /**
   * Creates an object from a request body.
   *
   * @param namespace the namespace from the path (ignored for namespaces)
   * @throws ApiException 404 when the namespace does not exist, 409 when the name is taken, 422 for
   *     an invalid name, 403 for a pod whose service account does not exist
   */
  synchronized ObjectNode create(ResourceKind kind, @Nullable String namespace, ObjectNode body) {
    ObjectNode object = body.deepCopy();
    ObjectNode metadata = metadata(object);
    if (kind.namespaced) {
      String bodyNamespace = metadata.path("namespace").asText("");
      if (!bodyNamespace.isEmpty() && !bodyNamespace.equals(namespace)) {
        throw ApiException.badRequest(
            "the namespace of the provided object does not match the namespace sent on the request");
      }
      requireNamespace(namespace);
      metadata.put("namespace", namespace);
    } else {
      metadata.remove("namespace");
    }
    String name = nameFor(kind, metadata);
    String key = key(kind, namespace, name);
    if (objects.get(kind).containsKey(key)) {
      throw ApiException.alreadyExists("", kind.resource, name);
    }
    Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
    metadata.put("uid", UUID.randomUUID().toString());
    metadata.put("resourceVersion", nextResourceVersion());
    metadata.put("creationTimestamp", now.toString());
    metadata.remove("deletionTimestamp");
    object.put("apiVersion", "v1");
    object.put("kind", kind.kind);
    switch (kind) {
      case NAMESPACE -> defaultNamespace(object, name);
      case SERVICE_ACCOUNT -> {}
      case POD -> defaultPod(object, namespace, name, now);
    }
    objects.get(kind).put(key, object);
    reorder(object);
    record("ADDED", kind, object);
    return object.deepCopy();
  }

  /**
   * @throws ApiException 404 when absent
   */
  synchronized ObjectNode get(ResourceKind kind, @Nullable String namespace, String name) {
    ObjectNode object = objects.get(kind).get(key(kind, namespace, name));
    if (object == null) {
      throw ApiException.notFound("", kind.resource, name);
    }
    return object.deepCopy();
  }

  /**
   * A {@code <Kind>List}; {@code namespace} null lists across all namespaces.
   *
   * @throws ApiException 400 for a selector that does not parse
   */
  synchronized ObjectNode list(
      ResourceKind kind,
      @Nullable String namespace,
      @Nullable String labelSelector,
      @Nullable String fieldSelector) {
    LabelSelector selector = labelSelector == null ? null : LabelSelector.parse(labelSelector);
    FieldSelector fields = fieldSelector == null ? null : FieldSelector.parse(kind, fieldSelector);
    ObjectNode list = Json.MAPPER.createObjectNode();
    list.put("kind", kind.listKind());
    list.put("apiVersion", "v1");
    list.putObject("metadata").put("resourceVersion", Long.toString(resourceVersion));
    ArrayNode items = list.putArray("items");
    for (ObjectNode object : objects.get(kind).values()) {
      JsonNode metadata = object.path("metadata");
      if (namespace != null
          && kind.namespaced
          && !namespace.equals(metadata.path("namespace").asText())) {
        continue;
      }
      if (selector != null && !selector.matches(metadata.path("labels"))) {
        continue;
      }
      if (fields != null && !fields.matches(object)) {
        continue;
      }
      items.add(object.deepCopy());
    }
    return list;
  }

  /**
   * Deletes an object at once (no grace period) and returns it as last seen, with {@code
   * deletionTimestamp} set. Deleting a namespace deletes everything in it.
   *
   * @throws ApiException 404 when absent, 403 for the namespaces the real server protects
   */
  synchronized ObjectNode delete(ResourceKind kind, @Nullable String namespace, String name) {
    if (kind == ResourceKind.NAMESPACE && UNDELETABLE_NAMESPACES.contains(name)) {
      throw ApiException.forbidden(
          "",
          "namespaces",
          name,
          "namespaces \"" + name + "\" is forbidden: this namespace may not be deleted");
    }
    ObjectNode object = objects.get(kind).remove(key(kind, namespace, name));
    if (object == null) {
      throw ApiException.notFound("", kind.resource, name);
    }
    String now = clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
    ObjectNode metadata = metadata(object);
    metadata.put("deletionTimestamp", now);
    metadata.put("resourceVersion", nextResourceVersion());
    if (kind == ResourceKind.NAMESPACE) {
      child(object, "status").put("phase", "Terminating");
      for (ResourceKind inner : List.of(ResourceKind.POD, ResourceKind.SERVICE_ACCOUNT)) {
        Iterator<Map.Entry<String, ObjectNode>> entries = objects.get(inner).entrySet().iterator();
        while (entries.hasNext()) {
          Map.Entry<String, ObjectNode> entry = entries.next();
          if (entry.getKey().startsWith(name + "/")) {
            entries.remove();
            ObjectNode gone = entry.getValue();
            metadata(gone).put("deletionTimestamp", now);
            metadata(gone).put("resourceVersion", nextResourceVersion());
            record("DELETED", inner, gone);
          }
        }
      }
    }
    // A DELETED event carries the object's last state, at the deletion's resourceVersion.
    record("DELETED", kind, object);
    return object.deepCopy();
  }

  // ---------------------------------------------------------------- watch

  /**
   * Opens a watch and queues what it must see first.
   *
   * <p>The semantics are those of the real API server for a watch request (Kubernetes API Concepts,
   * "Efficient detection of changes" and "Semantics for watch"): {@code resourceVersion} unset or
   * {@code "0"} starts with a synthetic ADDED event for every object that exists now ("Get State
   * and Start at Most Recent" / "Start at Any"), then every later change; a specific version
   * resumes strictly after it, replaying the retained changes; a version older than the retained
   * history gets a single ERROR event whose object is a 410 Gone Status ("too old resource
   * version"), after which the client must list again.
   *
   * @throws ApiException 400 for a selector that does not parse or a resourceVersion that is not a
   *     number
   */
  synchronized Watch watch(
      ResourceKind kind,
      @Nullable String namespace,
      @Nullable String labelSelector,
      @Nullable String fieldSelector,
      @Nullable String fromVersion) {
    Watch watch =
        new Watch(
            kind,
            namespace,
            labelSelector == null ? null : LabelSelector.parse(labelSelector),
            fieldSelector == null ? null : FieldSelector.parse(kind, fieldSelector));
    if (fromVersion == null || fromVersion.isEmpty() || fromVersion.equals("0")) {
      for (ObjectNode object : objects.get(kind).values()) {
        if (watch.selects(kind, object)) {
          watch.offer("ADDED", object.deepCopy());
        }
      }
    } else {
      long from;
      try {
        from = Long.parseLong(fromVersion);
      } catch (NumberFormatException e) {
        throw ApiException.badRequest("invalid resource version \"" + fromVersion + "\"");
      }
      if (from < compactedVersion) {
        expiredWatches++;
        watch.offerLast(
            "ERROR",
            ApiException.gone("too old resource version: " + from + " (" + compactedVersion + ")")
                .toStatus());
        return watch;
      }
      for (Event event : history) {
        if (event.version() > from && watch.selects(event.kind(), event.object())) {
          watch.offer(event.type(), event.object().deepCopy());
        }
      }
    }
    watches.add(watch);
    return watch;
  }

  /**
   * Queues a BOOKMARK for the watch: the store's current resourceVersion, which the watch has seen
   * every change up to, since everything before it is already queued. A bookmark object carries
   * only kind, apiVersion and metadata.resourceVersion.
   */
  synchronized void bookmark(Watch watch) {
    ObjectNode object = Json.MAPPER.createObjectNode();
    object.put("kind", watch.kind.kind);
    object.put("apiVersion", "v1");
    object.putObject("metadata").put("resourceVersion", Long.toString(resourceVersion));
    watch.offer("BOOKMARK", object);
  }

  /** Stops queueing events to the watch. */
  synchronized void cancel(Watch watch) {
    watch.end();
    watches.remove(watch);
  }

  /**
   * Forgets the whole watch history, as etcd compaction does: a watch from any resourceVersion
   * before now gets 410 Gone. For tests of clients' re-list behaviour.
   */
  synchronized void compactHistory() {
    history.clear();
    compactedVersion = resourceVersion;
  }

  /** Keeps at most {@code limit} events for watches that resume (at least 1). */
  synchronized void historyLimit(int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be at least 1, was " + limit);
    }
    historyLimit = limit;
    trimHistory();
  }

  /** Ends every open watch, as a restart of the API server's watch cache does. */
  synchronized void endWatches() {
    watches.forEach(Watch::end);
    watches.clear();
  }

  /** How many watches were answered 410 Gone so far; for tests. */
  synchronized long expiredWatches() {
    return expiredWatches;
  }

  /** How many watches are open; for tests. */
  synchronized int openWatches() {
    watches.removeIf(Watch::ended);
    return watches.size();
  }

  private void record(String type, ResourceKind kind, ObjectNode object) {
    long version = Long.parseLong(object.path("metadata").path("resourceVersion").asText());
    history.addLast(new Event(version, type, kind, object.deepCopy()));
    trimHistory();
    for (Watch watch : watches) {
      if (watch.selects(kind, object)) {
        watch.offer(type, object.deepCopy());
      }
    }
    watches.removeIf(Watch::ended);
  }

  private void trimHistory() {
    while (history.size() > historyLimit) {
      compactedVersion = history.removeFirst().version();
    }
  }

  /** The UID of a live object, or null. Used by token validation. */
  synchronized @Nullable String uidOf(ResourceKind kind, @Nullable String namespace, String name) {
    ObjectNode object = objects.get(kind).get(key(kind, namespace, name));
    return object == null ? null : object.path("metadata").path("uid").asText();
  }

  /** The live object or null, a copy. */
  synchronized @Nullable ObjectNode find(
      ResourceKind kind, @Nullable String namespace, String name) {
    ObjectNode object = objects.get(kind).get(key(kind, namespace, name));
    return object == null ? null : object.deepCopy();
  }

  private void requireNamespace(@Nullable String namespace) {
    if (namespace == null || !objects.get(ResourceKind.NAMESPACE).containsKey(namespace)) {
      throw ApiException.notFound("", "namespaces", namespace == null ? "" : namespace);
    }
  }

  private String nameFor(ResourceKind kind, ObjectNode metadata) {
    String name = metadata.path("name").asText("");
    if (name.isEmpty()) {
      String generateName = metadata.path("generateName").asText("");
      if (generateName.isEmpty()) {
        throw ApiException.required(
            "", kind.kind, "", "metadata.name", "name or generateName is required");
      }
      StringBuilder generated = new StringBuilder(generateName);
      for (int i = 0; i < 5; i++) {
        generated.append(GENERATE_ALPHABET.charAt(RANDOM.nextInt(GENERATE_ALPHABET.length())));
      }
      name = generated.toString();
      metadata.put("name", name);
    }
    boolean valid =
        kind == ResourceKind.NAMESPACE
            ? name.length() <= 63 && DNS1123_LABEL.matcher(name).matches()
            : name.length() <= 253 && DNS1123_SUBDOMAIN.matcher(name).matches();
    if (!valid) {
      String why =
          kind == ResourceKind.NAMESPACE
              ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or"
                  + " '-', and must start and end with an alphanumeric character (e.g. 'my-name', "
                  + " or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
              : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters,"
                  + " '-' or '.', and must start and end with an alphanumeric character (e.g."
                  + " 'example.com', regex used for validation is"
                  + " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
      throw ApiException.invalid("", kind.kind, name, "metadata.name", quote(name), why);
    }
    return name;
  }

  private void defaultNamespace(ObjectNode object, String name) {
    child(child(object, "metadata"), "labels").put("kubernetes.io/metadata.name", name);
    ObjectNode spec = child(object, "spec");
    if (!spec.has("finalizers")) {
      spec.putArray("finalizers").add("kubernetes");
    }
    object.putObject("status").put("phase", "Active");
  }

  private void defaultPod(ObjectNode object, @Nullable String namespace, String name, Instant now) {
    ObjectNode spec = child(object, "spec");
    JsonNode containers = spec.path("containers");
    if (!containers.isArray() || containers.isEmpty()) {
      throw ApiException.required("", "Pod", name, "spec.containers", "");
    }
    String serviceAccount = spec.path("serviceAccountName").asText("");
    if (serviceAccount.isEmpty()) {
      serviceAccount = spec.path("serviceAccount").asText("default");
    }
    if (!objects.get(ResourceKind.SERVICE_ACCOUNT).containsKey(namespace + "/" + serviceAccount)) {
      // What the ServiceAccount admission plugin answers.
      throw ApiException.forbidden(
          "",
          "pods",
          name,
          "pods \""
              + name
              + "\" is forbidden: error looking up service account "
              + namespace
              + "/"
              + serviceAccount
              + ": serviceaccount \""
              + serviceAccount
              + "\" not found");
    }
    spec.put("serviceAccountName", serviceAccount);
    spec.put("serviceAccount", serviceAccount);
    if (spec.path("nodeName").asText("").isEmpty()) {
      spec.put("nodeName", NODE_NAME);
    }
    if (!spec.has("restartPolicy")) {
      spec.put("restartPolicy", "Always");
    }
    int ip = podIpCounter++;
    ObjectNode status = object.putObject("status");
    status.put("phase", "Running");
    status.put("hostIP", "127.0.0.1");
    status.put("podIP", "10.244." + ((ip >> 8) & 0xff) + "." + (ip & 0xff));
    status.putArray("podIPs").addObject().put("ip", status.get("podIP").asText());
    status.put("startTime", now.toString());
    ArrayNode conditions = status.putArray("conditions");
    for (String type : List.of("Initialized", "Ready", "ContainersReady", "PodScheduled")) {
      conditions
          .addObject()
          .put("type", type)
          .put("status", "True")
          .put("lastTransitionTime", now.toString());
    }
    status.put("qosClass", "BestEffort");
  }

  private String nextResourceVersion() {
    return Long.toString(++resourceVersion);
  }

  private static ObjectNode metadata(ObjectNode object) {
    return child(object, "metadata");
  }

  /** The object-valued field, replacing a missing or non-object value with an empty object. */
  static ObjectNode child(ObjectNode parent, String field) {
    JsonNode value = parent.get(field);
    if (value instanceof ObjectNode object) {
      return object;
    }
    return parent.putObject(field);
  }

  /** apiVersion and kind first, as the real server serialises objects. */
  private static ObjectNode reorder(ObjectNode object) {
    ObjectNode ordered = Json.MAPPER.createObjectNode();
    ordered.set("kind", object.get("kind"));
    ordered.set("apiVersion", object.get("apiVersion"));
    Map<String, JsonNode> rest = new TreeMap<>();
    object.fields().forEachRemaining(e -> rest.put(e.getKey(), e.getValue()));
    for (String field : List.of("metadata", "spec", "status")) {
      if (rest.containsKey(field)) {
        ordered.set(field, rest.remove(field));
      }
    }
    rest.remove("kind");
    rest.remove("apiVersion");
    rest.forEach(ordered::set);
    object.removeAll();
    object.setAll(ordered);
    return object;
  }

  private static String key(ResourceKind kind, @Nullable String namespace, String name) {
    return kind.namespaced ? namespace + "/" + name : name;
  }

  static String quote(String value) {
    return "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /** For tests and diagnostics: how many objects of a kind exist. */
  synchronized int count(ResourceKind kind) {
    return objects.get(kind).size();
  }

  synchronized List<String> names(ResourceKind kind) {
    return new ArrayList<>(objects.get(kind).keySet());
  }
}
