package io.credbroker.broker.tls;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.function.Supplier;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.ssl.SslBundle;

/**
 * A server key manager that serves the key of an SSL bundle as the bundle is now: when Spring Boot
 * reloads the bundle because its files changed, the next handshake gets the new key and
 * certificate; connections already established keep theirs.
 *
 * <p>A handshake chooses an alias, then asks for its certificate chain and key. The alias carries
 * the generation it was chosen from, and the previous generation is kept, so a reload between those
 * calls cannot pair one generation's certificate with the other's key.
 *
 * <p>Thread-safe: handshakes run on several event-loop threads at once. Server side only; it never
 * offers a client certificate.
 */
final class FollowingKeyManager extends X509ExtendedKeyManager {

  private final Supplier<SslBundle> bundle;
  private volatile @Nullable Generation current;
  private volatile @Nullable Generation previous;

  /** Follows the bundle that {@code bundle} returns, asked again at every handshake. */
  FollowingKeyManager(Supplier<SslBundle> bundle) {
    this.bundle = bundle;
  }

  @Override
  public @Nullable String chooseEngineServerAlias(
      String keyType, Principal @Nullable [] issuers, @Nullable SSLEngine engine) {
    Generation generation = current();
    return generation.alias(
        generation.keyManager.chooseEngineServerAlias(keyType, issuers, engine));
  }

  @Override
  public @Nullable String chooseServerAlias(
      String keyType, Principal @Nullable [] issuers, @Nullable Socket socket) {
    Generation generation = current();
    return generation.alias(generation.keyManager.chooseServerAlias(keyType, issuers, socket));
  }

  @Override
  public String @Nullable [] getServerAliases(String keyType, Principal @Nullable [] issuers) {
    Generation generation = current();
    String[] aliases = generation.keyManager.getServerAliases(keyType, issuers);
    if (aliases == null) {
      return null;
    }
    String[] tagged = new String[aliases.length];
    for (int i = 0; i < aliases.length; i++) {
      tagged[i] = generation.alias(aliases[i]);
    }
    return tagged;
  }

  @Override
  public X509Certificate @Nullable [] getCertificateChain(String alias) {
    Generation generation = generationOf(alias);
    return generation == null ? null : generation.keyManager.getCertificateChain(untagged(alias));
  }

  @Override
  public @Nullable PrivateKey getPrivateKey(String alias) {
    Generation generation = generationOf(alias);
    return generation == null ? null : generation.keyManager.getPrivateKey(untagged(alias));
  }

  @Override
  public String @Nullable [] getClientAliases(String keyType, Principal @Nullable [] issuers) {
    return null;
  }

  @Override
  public @Nullable String chooseClientAlias(
      String[] keyType, Principal @Nullable [] issuers, @Nullable Socket socket) {
    return null;
  }

  @Override
  public @Nullable String chooseEngineClientAlias(
      String[] keyType, Principal @Nullable [] issuers, @Nullable SSLEngine engine) {
    return null;
  }

  /**
   * The generation of the bundle as it is now, made when the bundle was replaced since last time.
   */
  private Generation current() {
    SslBundle now = bundle.get();
    Generation generation = current;
    if (generation != null && generation.bundle == now) {
      return generation;
    }
    synchronized (this) {
      generation = current;
      if (generation == null || generation.bundle != now) {
        Generation next =
            new Generation(now, keyManagerOf(now), generation == null ? 1 : generation.number + 1);
        previous = generation;
        current = next;
        generation = next;
      }
      return generation;
    }
  }

  private @Nullable Generation generationOf(String alias) {
    int colon = alias.indexOf(':');
    if (colon < 0) {
      return null;
    }
    String number = alias.substring(0, colon);
    for (Generation generation : new Generation[] {current, previous}) {
      if (generation != null && Long.toString(generation.number).equals(number)) {
        return generation;
      }
    }
    return null;
  }

  private static String untagged(String alias) {
    return alias.substring(alias.indexOf(':') + 1);
  }

  private static X509ExtendedKeyManager keyManagerOf(SslBundle bundle) {
    for (KeyManager keyManager : bundle.getManagers().getKeyManagerFactory().getKeyManagers()) {
      if (keyManager instanceof X509ExtendedKeyManager x509) {
        return x509;
      }
    }
    throw new IllegalStateException("the SSL bundle has no X.509 key manager");
  }

  /** One loaded state of the bundle: the bundle object itself is its identity. */
  private record Generation(SslBundle bundle, X509ExtendedKeyManager keyManager, long number) {
    @Nullable String alias(@Nullable String alias) {
      return alias == null ? null : number + ":" + alias;
    }
  }
}
