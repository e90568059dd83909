package io.credbroker.broker.admin;

import io.credbroker.broker.BrokerException;
import io.credbroker.broker.BrokerException.Reason;
import io.credbroker.broker.config.BrokerProperties;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Checks path and query parameters against Kubernetes' naming rules before they go anywhere (a
 * SubjectAccessReview, a query), so that a malformed name gets a clear 400 instead of "not found".
 *
 * <p>Stateless.
 */
final class KubernetesNames {

  /** RFC 1123 label: what namespaces must be. */
  private static final Pattern DNS1123_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

  /** RFC 1123 subdomain: what pod names must be. */
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  /** A PostgreSQL identifier as Vault's username templates produce it (no quoting needed). */
  private static final Pattern USERNAME = Pattern.compile("[A-Za-z0-9_.@-]{1,63}");

  private static final Pattern DATABASE_ROLE =
      Pattern.compile(BrokerProperties.Binding.DATABASE_ROLE);

  private KubernetesNames() {}

  static String namespace(String value) {
    if (value.length() > 63 || !DNS1123_LABEL.matcher(value).matches()) {
      throw invalid("namespace", "a DNS-1123 label (at most 63 lower-case letters, digits or '-')");
    }
    return value;
  }

  static String podName(String value) {
    if (value.length() > 253 || !DNS1123_SUBDOMAIN.matcher(value).matches()) {
      throw invalid(
          "pod", "a DNS-1123 subdomain (at most 253 lower-case letters, digits, '-' or '.')");
    }
    return value;
  }

  static @Nullable String optionalNamespace(@Nullable String value) {
    return value == null || value.isEmpty() ? null : namespace(value);
  }

  static @Nullable String optionalPodName(@Nullable String value) {
    return value == null || value.isEmpty() ? null : podName(value);
  }

  static @Nullable String optionalServiceAccount(@Nullable String value) {
    if (value == null || value.isEmpty()) {
      return null;
    }
    if (value.length() > 253 || !DNS1123_SUBDOMAIN.matcher(value).matches()) {
      throw invalid(
          "serviceAccount",
          "a DNS-1123 subdomain (at most 253 lower-case letters, digits, '-' or '.')");
    }
    return value;
  }

  static @Nullable String optionalUsername(@Nullable String value) {
    if (value == null || value.isEmpty()) {
      return null;
    }
    if (!USERNAME.matcher(value).matches()) {
      throw invalid(
          "username", "a PostgreSQL user name of 1 to 63 letters, digits, '_', '.', '@' or '-'");
    }
    return value;
  }

  static @Nullable String optionalDatabaseRole(@Nullable String value) {
    if (value == null || value.isEmpty()) {
      return null;
    }
    if (!DATABASE_ROLE.matcher(value).matches()) {
      throw invalid("databaseRole", "1 to 63 letters, digits, '_', '.' or '-'");
    }
    return value;
  }

  static int limit(int value, int max) {
    if (value < 1 || value > max) {
      throw new BrokerException(
          Reason.INVALID_REQUEST, "limit must be between 1 and " + max + ", was " + value);
    }
    return value;
  }

  private static BrokerException invalid(String parameter, String rule) {
    // The value itself is not echoed: it may be long or contain anything.
    return new BrokerException(Reason.INVALID_REQUEST, parameter + " must be " + rule);
  }
}
