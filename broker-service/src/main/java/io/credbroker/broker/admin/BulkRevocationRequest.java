package io.credbroker.broker.admin;

import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import org.jspecify.annotations.Nullable;

/**
 * The body of a bulk revocation: which holders, and why.
 *
 * @param namespace the holders' namespace; without it, every namespace (then a database role is
 *     required)
 * @param serviceAccount the holders' service account; needs the namespace
 * @param databaseRole the binding's database role
 * @param reason why the operator revokes, for the audit trail; required unless it is a dry run
 */
@Schema(description = "Which holders to revoke (all filters must match), and why")
record BulkRevocationRequest(
    @Schema(example = "payments") @Nullable String namespace,
    @Schema(example = "checkout") @Nullable String serviceAccount,
    @Schema(example = "db1") @Nullable String databaseRole,
    @Schema(example = "INC-4711: service account token leaked", maxLength = 500)
        @Size(max = 500)
        @Pattern(
            regexp = "[^\\p{Cntrl}\\p{Cf}]*",
            message = "must not contain control or format characters")
        @Nullable String reason) {}
