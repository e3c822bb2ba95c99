package io.kmesos.replica.server;

import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception;
import java.util.logging.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps an expected disconnect out of the replica's log. When a caller gives up on a call (its
 * deadline passed, or it was cancelled) while the replica's answer is still being written — a large
 * fetch answer waiting for HTTP/2 flow control, typically under load — grpc-java's Netty server
 * logs a WARNING "Stream Error" with the full stack trace of {@code Stream closed before write
 * could take place}, through java.util.logging (so no logback setting reaches it). Nothing is
 * wrong: the caller retries or has moved on. Those records become one short DEBUG line each; every
 * other record of that logger is left as it was.
 */
final class ExpectedDisconnects {
  static final String NETTY_SERVER_HANDLER =
      "io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler";
  static final String STREAM_CLOSED = "Stream closed before write could take place";

  private static final org.slf4j.Logger log = LoggerFactory.getLogger(ExpectedDisconnects.class);

  /** Held: java.util.logging keeps loggers weakly, and a collected one would forget the filter. */
  private static final Logger NETTY = Logger.getLogger(NETTY_SERVER_HANDLER);

  static {
    NETTY.setFilter(
        record -> {
          if (record.getThrown() instanceof Http2Exception.StreamException e
              && STREAM_CLOSED.equals(e.getMessage())) {
            log.debug(
                "a caller gave up on stream {} before its answer was written (deadline or cancel): answer dropped",
                e.streamId());
            return false;
          }
          return true;
        });
  }

  private ExpectedDisconnects() {}

  /** Installs the filter (once per process; calling it again does nothing). */
  static void install() {
    // The static initializer did the work.
  }
}
