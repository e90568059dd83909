package io.credbroker.broker.lease;

/** How a credential was asked for, which decides whether anyone renews it. Stored by name. */
public enum CredentialKind {
  /** Issued on a {@code WatchCredential} stream; the replica holding the stream keeps it alive. */
  STREAM,
  /** Issued by {@code IssueCredential}; nobody renews it. */
  ONE_SHOT
}
