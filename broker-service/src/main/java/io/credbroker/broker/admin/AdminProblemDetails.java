package io.credbroker.broker.admin;

import io.credbroker.broker.BrokerException;
import java.net.URI;
import java.time.Duration;
import java.util.Locale;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;
import tools.jackson.databind.exc.UnrecognizedPropertyException;

/**
 * The one place where admin API failures become RFC 9457 problem details.
 *
 * <p>A {@link BrokerException} becomes the HTTP status of its reason's category, its own message
 * (written for callers) as {@code detail}, the reason as {@code reason} and in the {@code type}
 * URI. Spring MVC's own failures (unreadable body, failed bean validation, unknown path, wrong
 * method) get Spring's problem details from the base class. A failure of the state database that no
 * service turned into a {@code BrokerException} is {@code STATE_STORE_UNAVAILABLE} (503 with {@code
 * Retry-After}), as the gRPC API answers it: the call may be retried, and every admin write is
 * idempotent. Anything else is a defect: logged here, answered with a generic 500 that never
 * carries the exception's text.
 *
 * <p>Stateless and thread-safe. Limited to the admin controllers, so actuator endpoints keep their
 * own error handling.
 */
@RestControllerAdvice(basePackageClasses = AdminController.class)
class AdminProblemDetails extends ResponseEntityExceptionHandler {

  static final String TYPE_PREFIX = RunbookController.PROBLEMS_PATH + "/";
  private static final Logger log = LoggerFactory.getLogger(AdminProblemDetails.class);

  /** When a call that failed on the state database may be tried again. */
  private static final Duration STATE_STORE_RETRY = Duration.ofSeconds(5);

  @ExceptionHandler(BrokerException.class)
  ResponseEntity<ProblemDetail> brokerException(BrokerException e) {
    HttpStatus status =
        switch (e.reason().category()) {
          case UNAUTHENTICATED -> HttpStatus.UNAUTHORIZED;
          case PERMISSION_DENIED -> HttpStatus.FORBIDDEN;
          case NOT_FOUND -> HttpStatus.NOT_FOUND;
          case INVALID_ARGUMENT -> HttpStatus.BAD_REQUEST;
          // The request is fine but the thing it names is in the wrong state for it.
          case FAILED_PRECONDITION -> HttpStatus.CONFLICT;
          case RESOURCE_EXHAUSTED -> HttpStatus.TOO_MANY_REQUESTS;
          // Kubernetes, Vault or the state database is down: the caller should retry later.
          case UNAVAILABLE -> HttpStatus.SERVICE_UNAVAILABLE;
          case INTERNAL -> HttpStatus.INTERNAL_SERVER_ERROR;
        };
    if (e.reason() == BrokerException.Reason.INTERNAL) {
      log.error("Internal error while serving an admin call", e);
    }
    ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, e.getMessage());
    problem.setType(typeOf(e.reason().name()));
    problem.setProperty("reason", e.reason().name());
    HttpHeaders headers = new HttpHeaders();
    if (status == HttpStatus.UNAUTHORIZED) {
      // RFC 6750: tell the client which scheme to use.
      headers.set(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
    }
    Duration retryAfter = e.retryAfter();
    if (retryAfter != null) {
      headers.set(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, retryAfter.toSeconds())));
    }
    return ResponseEntity.status(status).headers(headers).body(problem);
  }

  /**
   * A body that cannot be read as the call's request (not JSON, a wrong type, a field the API does
   * not know) is {@code INVALID_REQUEST}, like every other refusal of input, naming the unknown
   * field (its name only, never a value).
   */
  @Override
  protected @Nullable ResponseEntity<Object> handleHttpMessageNotReadable(
      HttpMessageNotReadableException e,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    String detail =
        e.getMostSpecificCause() instanceof UnrecognizedPropertyException unknown
            ? "unknown field \""
                + abbreviate(unknown.getPropertyName())
                + "\"; the known ones are in the API's OpenAPI document"
            : "the request body is not a valid JSON body for this call";
    return ResponseEntity.badRequest()
        .body(
            brokerException(new BrokerException(BrokerException.Reason.INVALID_REQUEST, detail))
                .getBody());
  }

  private static String abbreviate(String name) {
    return name.length() <= 64 ? name : name.substring(0, 64) + "...";
  }

  @ExceptionHandler(DataAccessException.class)
  ResponseEntity<ProblemDetail> stateStoreFailure(DataAccessException e) {
    log.warn("An admin call failed on the state database", e);
    return brokerException(
        new BrokerException(
            BrokerException.Reason.STATE_STORE_UNAVAILABLE,
            "the broker's state database is unavailable; retry the call (it is idempotent)",
            STATE_STORE_RETRY,
            null));
  }

  @ExceptionHandler(RuntimeException.class)
  ResponseEntity<ProblemDetail> unexpected(RuntimeException e) {
    log.error("Unexpected failure while serving an admin call", e);
    ProblemDetail problem =
        ProblemDetail.forStatusAndDetail(HttpStatus.INTERNAL_SERVER_ERROR, "internal error");
    problem.setType(typeOf(BrokerException.Reason.INTERNAL.name()));
    problem.setProperty("reason", BrokerException.Reason.INTERNAL.name());
    return ResponseEntity.internalServerError().body(problem);
  }

  static URI typeOf(String reason) {
    return URI.create(TYPE_PREFIX + reason.toLowerCase(Locale.ROOT).replace('_', '-'));
  }
}
