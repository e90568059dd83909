/**
 * The Vault stand-in's core: the HTTP envelope, tokens and ACL policies, {@code sys/*}, the
 * Kubernetes auth method, the lease table with its expiry timer, and the SPI that secrets engines
 * (such as the database engine) implement.
 */
@NullMarked
package io.credbroker.devstack.vault;

import org.jspecify.annotations.NullMarked;
