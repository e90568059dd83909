package io.credbroker.devstack.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.credbroker.devstack.http.Json;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * One open watch: which objects it selects, and the events queued for it in resourceVersion order.
 *
 * <p>{@link ClusterStore} offers events while it holds its monitor, so the queue's order is the
 * store's order; the HTTP worker serving the watch takes them. When the watcher falls more than
 * {@link #CAPACITY} events behind, the watch is ended (the client watches again from the last
 * resourceVersion it saw), as the real API server ends a watcher whose buffer is full.
 *
 * <p>Thread-safe.
 */
final class Watch {

  static final int CAPACITY = 10_000;

  final ResourceKind kind;
  private final @Nullable String namespace;
  private final @Nullable LabelSelector labels;
  private final @Nullable FieldSelector fields;
  private final LinkedBlockingQueue<ObjectNode> events = new LinkedBlockingQueue<>(CAPACITY);
  private volatile boolean ended;

  Watch(
      ResourceKind kind,
      @Nullable String namespace,
      @Nullable LabelSelector labels,
      @Nullable FieldSelector fields) {
    this.kind = kind;
    this.namespace = namespace;
    this.labels = labels;
    this.fields = fields;
  }

  boolean selects(ResourceKind objectKind, JsonNode object) {
    if (objectKind != kind) {
      return false;
    }
    JsonNode metadata = object.path("metadata");
    if (namespace != null
        && kind.namespaced
        && !namespace.equals(metadata.path("namespace").asText())) {
      return false;
    }
    if (labels != null && !labels.matches(metadata.path("labels"))) {
      return false;
    }
    return fields == null || fields.matches(object);
  }

  /** Queues {@code {"type": type, "object": object}}; ends the watch when the queue is full. */
  void offer(String type, ObjectNode object) {
    if (ended) {
      return;
    }
    ObjectNode event = Json.MAPPER.createObjectNode();
    event.put("type", type);
    event.set("object", object);
    if (!events.offer(event)) {
      ended = true;
    }
  }

  /** Queues the last event of this watch and ends it. */
  void offerLast(String type, ObjectNode object) {
    offer(type, object);
    ended = true;
  }

  /**
   * The next event, waiting up to {@code millis} (but at most {@link #MAX_WAIT_MILLIS}, so that an
   * ended watch is noticed soon); null when none came.
   */
  @Nullable ObjectNode poll(long millis) throws InterruptedException {
    return events.poll(Math.max(0, Math.min(millis, MAX_WAIT_MILLIS)), TimeUnit.MILLISECONDS);
  }

  private static final long MAX_WAIT_MILLIS = 200;

  /** The next event if one is queued. */
  @Nullable ObjectNode pollNow() {
    return events.poll();
  }

  /** Whether no more events will be queued (the watch is over once the queue is drained). */
  boolean ended() {
    return ended;
  }

  void end() {
    ended = true;
  }
}
