package io.credbroker.devstack.vault;

/**
 * Vault's logical operations. POST and PUT arrive as {@link #UPDATE}; an engine that cares whether
 * the target exists checks that itself. {@code LIST} and {@code GET ?list=true} arrive as {@link
 * #LIST}.
 */
public enum Operation {
  READ,
  LIST,
  CREATE,
  UPDATE,
  DELETE
}
