package io.credbroker.broker.admin;

import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/**
 * The body of a revocation or of lifting a block.
 *
 * @param reason why the operator acts, for the audit trail (e.g. an incident number)
 */
@Schema(description = "Why the operator acts; kept in the audit trail")
record RevocationRequest(
    @Schema(example = "INC-4711: pod compromised", maxLength = 500)
        @NotBlank
        @Size(max = 500)
        // No control characters (the reason goes into log lines and the audit trail as it is), nor
        // format characters (a right-to-left override would show it reversed).
        @Pattern(
            regexp = "[^\\p{Cntrl}\\p{Cf}]*",
            message = "must not contain control or format characters")
        String reason) {}
