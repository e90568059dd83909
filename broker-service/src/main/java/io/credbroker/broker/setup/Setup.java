package io.credbroker.broker.setup;

/**
 * Both halves of setup in one call, for code that prepares a stack in-process (tests, the dev run):
 * PostgreSQL first, then Vault, whose new connection gets a fresh random admin password that Vault
 * rotates at once. Stateless and thread-safe; each call opens and closes its own connections.
 */
public final class Setup {

  private Setup() {}

  /**
   * Sets up (or with {@code dryRun} plans) the target database and Vault.
   *
   * @throws SetupException when a step is refused; what was done stays done and a rerun continues
   */
  public static SetupReport apply(
      TargetDatabaseOptions database, VaultSetupOptions vault, boolean dryRun) {
    TargetDatabaseSetup databaseSetup = new TargetDatabaseSetup(database);
    SetupReport postgres = databaseSetup.apply(dryRun);
    return postgres.plus(
        new VaultSetup(vault)
            .apply(
                dryRun,
                () -> {
                  Secret password = Secret.random();
                  databaseSetup.setVaultAdminPassword(password);
                  return password;
                }));
  }
}
