package io.credbroker.devstack.vault;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/** Timestamps as Vault writes them: Go's RFC3339Nano in UTC (trailing zeros dropped). */
final class VaultClock {

  private VaultClock() {}

  static String format(Instant t) {
    // ISO_INSTANT already drops trailing zero fractions like RFC3339Nano does.
    return DateTimeFormatter.ISO_INSTANT.format(t.atOffset(ZoneOffset.UTC));
  }
}
