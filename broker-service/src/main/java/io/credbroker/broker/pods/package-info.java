/**
 * The pods the broker serves, as Kubernetes sees them: one shared watch of pods that notices when a
 * pod with live credentials or open streams is deleted and hands it to the lease lifecycle.
 */
@NullMarked
package io.credbroker.broker.pods;

import org.jspecify.annotations.NullMarked;
