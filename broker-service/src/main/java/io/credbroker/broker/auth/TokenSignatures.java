package io.credbroker.broker.auth;

import com.nimbusds.jwt.JWT;

/**
 * Checks a token's signature before it costs a TokenReview.
 *
 * <p>Implementations are thread-safe.
 */
@FunctionalInterface
public interface TokenSignatures {

  /** What the check found. */
  enum Verdict {
    /** Signed by one of the cluster's keys: the TokenReview decides the rest. */
    VALID,
    /** Not signed by any key the cluster has: refused without a TokenReview. */
    INVALID,
    /** The cluster's keys are not known right now: the TokenReview decides alone. */
    UNCHECKED
  }

  /** No check: every token goes to its TokenReview. */
  TokenSignatures NONE = jwt -> Verdict.UNCHECKED;

  Verdict check(JWT jwt);
}
