package io.credbroker.broker.grpc;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.ServerTransportFilter;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSessionContext;

/**
 * Stops the gRPC server's TLS from giving clients session tickets, from the second connection on.
 *
 * <p>Why. The JDK's TLS 1.3 server sends a {@code NewSessionTicket} after every full handshake
 * (about 1.1 KB with a 2048-bit RSA certificate: the ticket carries the session state), and a
 * connection that was given one keeps about 1 KiB more heap for its life (the JDK's engine alone,
 * 2,000 connections from distinct clients: 5,693 against 4,622 bytes per server engine). What a
 * ticket buys is a shorter handshake when its client comes back to this replica, and that is rare
 * here: a pod connects once and keeps its connection for hours, and after a replica goes away its
 * pods reconnect to another replica, which cannot open this one's tickets (each JDK server seals
 * them with keys of its own).
 *
 * <p>How. The JDK issues no ticket when the server's session timeout is longer than the longest
 * ticket lifetime TLS allows, 7 days (RFC 8446, section 4.6.1; {@code NewSessionTicket} in the
 * JDK's {@code sun.security.ssl}). grpc-java builds the server's TLS context from spring-grpc's
 * credentials and exposes it nowhere, so this filter sets the timeout on the server's session
 * context through the first connection that reaches it ({@link Grpc#TRANSPORT_ATTR_SSL_SESSION});
 * that connection has had its ticket already. The context is shared by every connection of the
 * server, including those after a certificate renewal.
 */
final class NoSessionTickets extends ServerTransportFilter {

  /** One second over 7 days, in seconds: the JDK sends no ticket for a longer session timeout. */
  static final int SESSION_TIMEOUT_SECONDS = 7 * 24 * 60 * 60 + 1;

  @Override
  public Attributes transportReady(Attributes transportAttrs) {
    SSLSession session = transportAttrs.get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    SSLSessionContext sessions = session == null ? null : session.getSessionContext();
    if (sessions != null && sessions.getSessionTimeout() != SESSION_TIMEOUT_SECONDS) {
      sessions.setSessionTimeout(SESSION_TIMEOUT_SECONDS);
    }
    return transportAttrs;
  }
}
