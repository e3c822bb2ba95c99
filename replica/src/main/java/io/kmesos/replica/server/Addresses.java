package io.kmesos.replica.server;

import java.net.InetSocketAddress;

/** host:port strings, as replicas are listed in --peers (StatefulSet DNS names in a cluster). */
public final class Addresses {
  private Addresses() {}

  public static InetSocketAddress parse(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      throw new IllegalArgumentException("'" + hostPort + "' is not host:port");
    }
    String host = hostPort.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + hostPort + "' has no numeric port");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("'" + hostPort + "': port out of range");
    }
    return new InetSocketAddress(host, port);
  }
}
