/**
 * The dev-stack's Kubernetes API server stand-in: TLS with its own CA, core/v1 namespaces, service
 * accounts and pods, TokenRequest/TokenReview with RS256 service-account tokens,
 * SubjectAccessReview evaluated against RBAC rules, and OIDC discovery.
 */
@NullMarked
package io.credbroker.devstack.kubernetes;

import org.jspecify.annotations.NullMarked;
