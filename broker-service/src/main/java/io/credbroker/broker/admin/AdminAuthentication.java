package io.credbroker.broker.admin;

import io.credbroker.broker.auth.KubernetesUser;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.Objects;
import org.springframework.http.HttpHeaders;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.HandlerInterceptor;

/**
 * Authenticates every call of the admin API before Spring reads its parameters and body: a caller
 * without a valid token learns nothing from the API but 401, whatever it sends (a body that is not
 * JSON, a field that fails validation). The user goes to the handler as the request attribute
 * {@link #USER}; failures are {@link io.credbroker.broker.BrokerException}s, which {@link
 * AdminProblemDetails} turns into problems.
 */
final class AdminAuthentication implements HandlerInterceptor {

  /** The request attribute that holds the authenticated {@link KubernetesUser}. */
  static final String USER = "io.credbroker.broker.admin.user";

  private final AdminAccess access;

  AdminAuthentication(AdminAccess access) {
    this.access = Objects.requireNonNull(access, "access");
  }

  @Override
  public boolean preHandle(
      HttpServletRequest request, HttpServletResponse response, Object handler) {
    if (handler instanceof HandlerMethod method
        && AdminController.class.isAssignableFrom(method.getBeanType())) {
      request.setAttribute(USER, access.authenticate(request.getHeader(HttpHeaders.AUTHORIZATION)));
    }
    return true;
  }
}
