/**
 * Who is calling and what they may have: Kubernetes TokenReview of a pod's token (cached), the pod
 * identity it yields, and the bindings that allow identities to obtain database roles.
 */
@NullMarked
package io.credbroker.broker.auth;

import org.jspecify.annotations.NullMarked;
