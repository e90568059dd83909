package io.credbroker.devstack.http;

/** Answers one request. Runs on the endpoint's worker threads, so it must be thread-safe. */
@FunctionalInterface
public interface Handler {
  HttpResponse handle(HttpRequest request) throws Exception;
}
