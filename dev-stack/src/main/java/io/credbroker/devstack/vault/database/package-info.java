/**
 * The Vault stand-in's database secrets engine with its PostgreSQL plugin: connection configs,
 * roles, dynamic credentials, root rotation, and the SQL that renews and revokes them.
 */
@NullMarked
package io.credbroker.devstack.vault.database;

import org.jspecify.annotations.NullMarked;
