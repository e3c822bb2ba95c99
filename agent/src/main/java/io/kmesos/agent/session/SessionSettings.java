package io.kmesos.agent.session;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The validated settings of the agent's session with the master.
 *
 * @param masters host:port of every controller that may lead, tried in turn
 * @param tokenFile the service account token sent as {@code authorization: Bearer}, read on every
 *     connect
 * @param hostname the agent's hostname as its Agent resource has it
 * @param bootId the host's boot ID
 * @param pingInterval how often the agent pings the master
 * @param masterTimeout a session without any message from the master this long is taken as dead
 * @param minBackoff the first pause after a round of masters that all failed, doubling to {@code
 *     maxBackoff} (with jitter)
 */
public record SessionSettings(
    List<String> masters,
    Path tokenFile,
    String hostname,
    String bootId,
    Duration pingInterval,
    Duration masterTimeout,
    Duration minBackoff,
    Duration maxBackoff) {
  public SessionSettings {
    masters = List.copyOf(masters);
    if (masters.isEmpty()) {
      throw new IllegalArgumentException(
          "--master is missing: name the masters as host:port[,host:port...]");
    }
    for (String m : masters) {
      int colon = m.lastIndexOf(':');
      if (colon <= 0 || !m.substring(colon + 1).matches("[0-9]{1,5}")) {
        throw new IllegalArgumentException("--master: '" + m + "' is not host:port");
      }
    }
    if (pingInterval.isNegative() || pingInterval.isZero()) {
      throw new IllegalArgumentException("--ping-interval must be positive, not " + pingInterval);
    }
    if (masterTimeout.compareTo(pingInterval) <= 0) {
      throw new IllegalArgumentException(
          "--master-timeout ("
              + masterTimeout
              + ") must be longer than --ping-interval ("
              + pingInterval
              + ")");
    }
    if (minBackoff.isNegative() || minBackoff.isZero() || maxBackoff.compareTo(minBackoff) < 0) {
      throw new IllegalArgumentException(
          "reconnect back-off: need 0 < min <= max, not " + minBackoff + " and " + maxBackoff);
    }
  }
}
