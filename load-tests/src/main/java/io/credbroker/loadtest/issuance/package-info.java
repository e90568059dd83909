/** The issuance scenario: broker {@code IssueCredential} latency against direct Vault reads. */
@NullMarked
package io.credbroker.loadtest.issuance;

import org.jspecify.annotations.NullMarked;
