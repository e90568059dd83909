/**
 * The REST admin API for operators: thin Spring MVC controllers over the revocation feature,
 * authenticated by Kubernetes TokenReview and authorised by SubjectAccessReview against Kubernetes
 * RBAC, with failures as RFC 9457 problem details.
 */
@NullMarked
package io.credbroker.broker.admin;

import org.jspecify.annotations.NullMarked;
