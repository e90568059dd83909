package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;

import io.credbroker.broker.lease.CredentialQueries.IdentityRole;
import io.credbroker.broker.revocation.StateDatabase;
import java.nio.file.Path;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The schedule's writes that race with another replica's marks, on a real PostgreSQL: a rotation
 * that is under way when a credential is marked for an ending (its pod deleted, its binding gone)
 * must not undo the mark.
 */
class CredentialStoreIT {

  private static final String REPLICA = "replica-a";

  @TempDir static Path workDir;
  private static StateDatabase db;
  private static CredentialStore store;

  @BeforeAll
  static void migrate() {
    db = new StateDatabase(workDir);
    store = new CredentialStore(db.jdbc);
  }

  @AfterAll
  static void stop() {
    if (db != null) {
      db.close();
    }
  }

  @Test
  void rotationDoesNotSupersedeACredentialMarkedUnboundMeanwhile() {
    UUID id = insertCredential("unbound-sa");
    Instant revokeAt = Instant.now().plusSeconds(5);
    assertThat(
            store.endRenewalsUnbound(
                new IdentityRole("public", "unbound-sa", "db1"), revokeAt, Instant.now()))
        .isEqualTo(1);

    boolean superseded =
        store.supersede(id, REPLICA, Instant.now().plusSeconds(3600), RevocationTrigger.EXPIRED);

    assertThat(superseded).isFalse();
    assertThat(trigger(id)).isEqualTo("UNBOUND");
  }

  @Test
  void rotationDoesNotSupersedeACredentialOfAPodDeletedMeanwhile() {
    String podUid = UUID.randomUUID().toString();
    UUID id = insertCredential("application", podUid);
    assertThat(store.endRenewalsOfPod(podUid, Instant.now().plusSeconds(5))).containsExactly(id);

    boolean superseded =
        store.supersede(id, REPLICA, Instant.now().plusSeconds(3600), RevocationTrigger.EXPIRED);

    assertThat(superseded).isFalse();
    assertThat(trigger(id)).isEqualTo("POD_DELETED");
  }

  @Test
  void undoingASupersedeKeepsAMarkMadeAfterIt() {
    String podUid = UUID.randomUUID().toString();
    UUID id = insertCredential("application", podUid);
    Instant oldExpire = Instant.now().plusSeconds(3600);
    assertThat(store.supersede(id, REPLICA, oldExpire, RevocationTrigger.EXPIRED)).isTrue();
    // The pod is deleted while the replacement is on its way to a stream that has gone.
    store.endRenewalsOfPod(podUid, Instant.now().plusSeconds(5));

    boolean restored = store.restoreSuperseded(id, REPLICA, Instant.now());

    assertThat(restored).isFalse();
    assertThat(trigger(id)).isEqualTo("POD_DELETED");
  }

  @Test
  void undoingASupersedeMakesAnUnmarkedCredentialResumableAgain() {
    UUID id = insertCredential("application");
    assertThat(
            store.supersede(
                id, REPLICA, Instant.now().plusSeconds(3600), RevocationTrigger.EXPIRED))
        .isTrue();

    assertThat(store.restoreSuperseded(id, REPLICA, Instant.now())).isTrue();
    assertThat(trigger(id)).isNull();
  }

  private static String trigger(UUID id) {
    return db.jdbc
        .sql("SELECT revoke_trigger FROM credential WHERE id = :id")
        .param("id", id)
        .query(String.class)
        .optional()
        .orElse(null);
  }

  private static UUID insertCredential(String serviceAccount) {
    return insertCredential(serviceAccount, UUID.randomUUID().toString());
  }

  private static UUID insertCredential(String serviceAccount, String podUid) {
    return db.insertCredential(serviceAccount, "app-1", podUid, "v-" + UUID.randomUUID(), REPLICA);
  }
}
