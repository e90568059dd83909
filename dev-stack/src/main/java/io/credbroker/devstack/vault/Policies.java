package io.credbroker.devstack.vault;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ACL policies: stored text in PostgreSQL, parsed once and cached. {@code root} is implicit;
 * {@code default} is written at first start with the rules Vault ships (a token may look up, renew
 * and revoke itself and renew or look up leases). Thread-safe.
 */
final class Policies {

  static final String DEFAULT_POLICY =
      """
      # Allow tokens to look up their own properties
      path "auth/token/lookup-self" {
          capabilities = ["read"]
      }

      # Allow tokens to renew themselves
      path "auth/token/renew-self" {
          capabilities = ["update"]
      }

      # Allow tokens to revoke themselves
      path "auth/token/revoke-self" {
          capabilities = ["update"]
      }

      # Allow a token to look up its own capabilities on a path
      path "sys/capabilities-self" {
          capabilities = ["update"]
      }

      # Allow a token to renew a lease via lease_id in the request body
      path "sys/leases/renew" {
          capabilities = ["update"]
      }
      path "sys/renew" {
          capabilities = ["update"]
      }

      # Allow looking up lease properties
      path "sys/leases/lookup" {
          capabilities = ["update"]
      }

      # Allow a token to look up its resultant ACL from all policies
      path "sys/internal/ui/resultant-acl" {
          capabilities = ["read"]
      }
      """;

  private final VaultStore store;
  private final Map<String, Policy> cache = new ConcurrentHashMap<>();

  Policies(VaultStore store) {
    this.store = store;
  }

  void ensureBuiltIns() {
    store.putPolicyIfAbsent("default", DEFAULT_POLICY);
  }

  Acl acl(List<String> names) {
    List<Policy> list = new ArrayList<>();
    for (String name : names) {
      if (name.equals("root")) {
        list.add(new Policy("root", List.of()));
        continue;
      }
      Policy p =
          cache.computeIfAbsent(
              name, n -> store.policy(n).map(t -> Policy.parse(n, t)).orElse(null));
      if (p != null) {
        list.add(p);
      }
    }
    return Acl.of(list);
  }

  void put(String name, String text) {
    if (name.equals("root")) {
      throw VaultException.badRequest("cannot update \"root\" policy");
    }
    if (!name.matches("[A-Za-z0-9_.\\-@/]+")) {
      throw VaultException.badRequest("invalid policy name");
    }
    Policy.parse(name, text);
    store.putPolicy(name.toLowerCase(java.util.Locale.ROOT), text);
    cache.remove(name.toLowerCase(java.util.Locale.ROOT));
  }

  void delete(String name) {
    if (name.equals("root")) {
      throw VaultException.badRequest("cannot delete \"root\" policy");
    }
    if (name.equals("default")) {
      throw VaultException.badRequest("cannot delete \"default\" policy");
    }
    store.deletePolicy(name);
    cache.remove(name);
  }

  java.util.Optional<String> text(String name) {
    return store.policy(name);
  }

  List<String> names() {
    List<String> names = new ArrayList<>(store.policyNames());
    names.add("root");
    names.sort(String::compareTo);
    return names;
  }
}
