/**
 * Tests of the credential-broker Helm chart: lint, render with the real Helm engine, and assert on
 * the objects.
 */
@NullMarked
package io.credbroker.helm;

import org.jspecify.annotations.NullMarked;
