/**
 * The public face of the credential broker client: one long-lived {@link
 * io.credbroker.client.CredentialBrokerClient} per application, credential streams, the {@link
 * io.credbroker.client.Credential} value and the listeners that observe them; everything else lives
 * in {@code io.credbroker.client.internal} and may change without notice.
 */
@NullMarked
package io.credbroker.client;

import org.jspecify.annotations.NullMarked;
