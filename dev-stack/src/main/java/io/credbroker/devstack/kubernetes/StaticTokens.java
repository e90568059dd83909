package io.credbroker.devstack.kubernetes;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * People's bearer tokens, as the real API server's static token file authenticates them ({@code
 * --token-auth-file}: one {@code token,user,uid,"group1,group2"} line per user; see
 * kubernetes/staging/src/k8s.io/apiserver/plugin/pkg/authenticator/token/tokenfile/tokenfile.go).
 * Such a token stands for a person rather than a service account: requests with it act as that
 * user, and TokenReview answers with the user's name, UID and groups.
 *
 * <p>Like every non-service-account authenticator, a static token carries no audience of its own:
 * the API server accepts it for its own audiences only (k8s.io/apiserver
 * pkg/authentication/authenticator/audagnostic.go), so a TokenReview that asks for other audiences
 * rejects it.
 *
 * <p>The tokens are made once and kept in the state directory, so that a kubeconfig written before
 * a restart still works. Immutable and thread-safe.
 */
final class StaticTokens {

  static final String FILE = "token-auth.csv";

  /** A person the dev stack knows, without the token. */
  record Person(String kubeconfigUser, String username, String uid, List<String> groups) {
    Person {
      groups = List.copyOf(groups);
    }
  }

  /**
   * The on-call engineer of the dev stack: bound to {@code credbroker-revoker} in the default RBAC.
   */
  static final Person SRE = new Person("sre", "jane@example.com", "jane", List.of("sre"));

  private final Map<String, UserInfo> usersByToken;
  private final Map<String, String> tokensByKubeconfigUser;

  private StaticTokens(
      Map<String, UserInfo> usersByToken, Map<String, String> tokensByKubeconfigUser) {
    this.usersByToken = Map.copyOf(usersByToken);
    this.tokensByKubeconfigUser = Map.copyOf(tokensByKubeconfigUser);
  }

  /**
   * Reads {@code stateDir/token-auth.csv}, writing it with new tokens for {@code people} if
   * missing.
   */
  static StaticTokens loadOrCreate(Path stateDir, List<Person> people) throws IOException {
    Path file = stateDir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      StringBuilder csv = new StringBuilder();
      SecureRandom random = new SecureRandom();
      for (Person person : people) {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        String token =
            person.kubeconfigUser()
                + "-"
                + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        csv.append(token)
            .append(',')
            .append(person.username())
            .append(',')
            .append(person.uid())
            .append(",\"")
            .append(String.join(",", person.groups()))
            .append("\"\n");
      }
      StateFiles.writePrivate(file, csv.toString());
    }
    java.util.HashMap<String, UserInfo> users = new java.util.HashMap<>();
    java.util.HashMap<String, String> tokens = new java.util.HashMap<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      String[] fields = line.split(",", 4);
      if (fields.length < 3) {
        throw new IllegalArgumentException(file + ": a line needs token,user,uid");
      }
      List<String> groups = new ArrayList<>();
      if (fields.length == 4) {
        String quoted = fields[3].strip();
        String list =
            quoted.startsWith("\"") && quoted.endsWith("\"") && quoted.length() >= 2
                ? quoted.substring(1, quoted.length() - 1)
                : quoted;
        Arrays.stream(list.split(","))
            .map(String::strip)
            .filter(g -> !g.isEmpty())
            .forEach(groups::add);
      }
      // What the real authenticator adds to every authenticated user.
      groups.add(UserInfo.AUTHENTICATED);
      users.put(fields[0], new UserInfo(fields[1], fields[2], groups, Map.of()));
      for (Person person : people) {
        if (person.username().equals(fields[1])) {
          tokens.put(person.kubeconfigUser(), fields[0]);
        }
      }
    }
    return new StaticTokens(users, tokens);
  }

  /** The user of {@code token}, or {@code null} when it is not a static token. */
  @Nullable UserInfo authenticate(String token) {
    byte[] given = token.getBytes(StandardCharsets.UTF_8);
    UserInfo found = null;
    // Compared in constant time, every entry, so the answer's timing tells nothing.
    for (Map.Entry<String, UserInfo> entry : usersByToken.entrySet()) {
      if (MessageDigest.isEqual(entry.getKey().getBytes(StandardCharsets.UTF_8), given)) {
        found = entry.getValue();
      }
    }
    return found;
  }

  /** The token of a person by the name a kubeconfig gives them, e.g. {@code sre}. */
  String tokenOf(String kubeconfigUser) {
    String token = tokensByKubeconfigUser.get(kubeconfigUser);
    if (token == null) {
      throw new IllegalArgumentException("no static token for " + kubeconfigUser);
    }
    return token;
  }
}
