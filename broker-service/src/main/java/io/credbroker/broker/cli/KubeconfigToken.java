package io.credbroker.broker.cli;

import io.fabric8.kubernetes.api.model.AuthProviderConfig;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.OAuthTokenProvider;
import java.io.File;
import java.nio.file.Path;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The bearer token of the person at the keyboard, from their kubeconfig: {@code --kubeconfig}, else
 * the first existing file of {@code KUBECONFIG}, else {@code ~/.kube/config}; the current context
 * or {@code --context}. The fabric8 client reads it as kubectl does: a {@code token}, a {@code
 * tokenFile}, an {@code exec} credential plugin (run now, e.g. {@code aws eks get-token}, {@code
 * gke-gcloud-auth-plugin}, {@code kubelogin}), or the {@code id-token} of an {@code oidc} auth
 * provider.
 *
 * <p>Never a pod's service-account token: the admin API must see the person, so the in-cluster
 * fallback is not used. A user with only a client certificate is refused, because the broker
 * authenticates bearer tokens with TokenReview and a certificate cannot be sent on.
 */
final class KubeconfigToken {

  private KubeconfigToken() {}

  /**
   * @throws CliException when no kubeconfig is found, the context is unknown, or its user has no
   *     token
   */
  static String resolve(@Nullable Path kubeconfig, @Nullable String context) {
    File file = kubeconfig != null ? kubeconfig.toFile() : defaultFile();
    if (!file.isFile()) {
      throw new CliException(
          "kubeconfig " + file + " does not exist; pass --kubeconfig or set KUBECONFIG");
    }
    Config config;
    try {
      config = Config.fromKubeconfig(context, file);
    } catch (KubernetesClientException | IllegalArgumentException e) {
      throw new CliException("cannot use kubeconfig " + file + ": " + e.getMessage());
    }
    if (context != null
        && (config.getCurrentContext() == null
            || !context.equals(config.getCurrentContext().getName()))) {
      throw new CliException("kubeconfig " + file + " has no context '" + context + "'");
    }
    String token = token(config);
    if (token != null && !token.isBlank()) {
      return token.strip();
    }
    String contextName =
        config.getCurrentContext() == null ? "(none)" : config.getCurrentContext().getName();
    if (config.getClientCertFile() != null || config.getClientCertData() != null) {
      throw new CliException(
          "the user of context '"
              + contextName
              + "' authenticates with a client certificate only;"
              + " the broker's admin API accepts bearer tokens (it asks Kubernetes with TokenReview,"
              + " which cannot check a certificate). Use a context whose user has a token, an exec"
              + " plugin or OIDC.");
    }
    throw new CliException("the user of context '" + contextName + "' has no token in " + file);
  }

  private static @Nullable String token(Config config) {
    OAuthTokenProvider provider = config.getOauthTokenProvider();
    if (provider != null) {
      return provider.getToken();
    }
    if (config.getAutoOAuthToken() != null) {
      return config.getAutoOAuthToken();
    }
    if (config.getOauthToken() != null) {
      return config.getOauthToken();
    }
    AuthProviderConfig authProvider = config.getAuthProvider();
    if (authProvider != null && authProvider.getConfig() != null) {
      Map<String, String> settings = authProvider.getConfig();
      // What kubectl sends for the oidc provider; kubectl refreshes it when it has expired.
      return settings.get("id-token");
    }
    return null;
  }

  private static File defaultFile() {
    String paths = System.getenv("KUBECONFIG");
    if (paths != null && !paths.isBlank()) {
      for (String path : paths.split(File.pathSeparator)) {
        if (!path.isBlank() && new File(path).isFile()) {
          return new File(path);
        }
      }
    }
    return new File(System.getProperty("user.home"), ".kube" + File.separator + "config");
  }
}
