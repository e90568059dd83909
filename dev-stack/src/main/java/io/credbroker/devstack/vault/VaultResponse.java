package io.credbroker.devstack.vault;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What a handler returns. The core renders the full Vault envelope around it (request_id, lease_id,
 * renewable, lease_duration, data, wrap_info, warnings, auth, mount_type), or no body for 204.
 * Immutable.
 *
 * @param lease when present, lease_id, renewable and lease_duration come from it
 * @param auth the {@code auth} block of a login or token creation, rendered as given
 */
public record VaultResponse(
    int status,
    @Nullable Object data,
    @Nullable LeaseRecord lease,
    List<String> warnings,
    @Nullable Object auth) {

  public VaultResponse {
    warnings = List.copyOf(warnings);
  }

  /** 200 with data. */
  public static VaultResponse data(Object data) {
    return new VaultResponse(200, data, null, List.of(), null);
  }

  /** 204, no body. */
  public static VaultResponse noContent() {
    return new VaultResponse(204, null, null, List.of(), null);
  }

  /** 200 with data and lease_id/renewable/lease_duration taken from the lease. */
  public static VaultResponse leased(LeaseRecord lease, Object data) {
    return new VaultResponse(200, data, lease, List.of(), null);
  }

  /** 200 with an auth block (login, token creation) and no data. */
  public static VaultResponse auth(Object auth) {
    return new VaultResponse(200, null, null, List.of(), auth);
  }

  /** A copy with one more warning; a 204 becomes a 200 with null data, as Vault does. */
  public VaultResponse withWarning(String warning) {
    List<String> more = new ArrayList<>(warnings);
    more.add(warning);
    return new VaultResponse(status == 204 ? 200 : status, data, lease, more, auth);
  }
}
