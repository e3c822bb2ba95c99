package io.kmesos.framework;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The masters a client may reach, from {@code --master host:port[,host:port...]}: tried in turn,
 * the leader among them found by the {@code kmesos-leader} hint a standby answers with.
 */
public final class MasterAddresses {
  private MasterAddresses() {}

  /**
   * The addresses of a comma-separated list, in order, duplicates dropped.
   *
   * @throws IllegalArgumentException naming the entry that is not host:port
   */
  public static List<String> parse(String list) {
    if (list == null || list.isBlank()) {
      throw new IllegalArgumentException(
          "--master is missing: name the master(s) as host:port[,host:port...]");
    }
    Set<String> addresses = new LinkedHashSet<>();
    for (String raw : list.split(",", -1)) {
      String address = raw.strip();
      if (address.isEmpty()) {
        continue;
      }
      addresses.add(check(address));
    }
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException(
          "--master '" + list + "' names no master; use host:port[,host:port...]");
    }
    return List.copyOf(new ArrayList<>(addresses));
  }

  /** {@code address} if it is host:port with a port in 1..65535. */
  public static String check(String address) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException(
          "master address '" + address + "' is not host:port (e.g. 127.0.0.1:5050)");
    }
    String port = address.substring(colon + 1);
    int p;
    try {
      p = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      p = -1;
    }
    if (p < 1 || p > 65535) {
      throw new IllegalArgumentException(
          "master address '" + address + "' has no valid port (1..65535) after ':'");
    }
    return address;
  }
}
