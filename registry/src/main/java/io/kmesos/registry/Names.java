package io.kmesos.registry;

import io.kmesos.api.registry.v1.MachineID;
import java.util.Locale;

/**
 * How the registry is laid out in State variables: one variable per entry, so that an operation
 * stores only the entries it changes.
 *
 * <pre>
 *   master                   MasterInfo   the leading master
 *   agents/{id}              Agent        admitted, unreachable or gone
 *   machines/{host}@{ip}     Machine      scheduled for maintenance (DRAINING) or in it (DOWN)
 *   schedules/{name}         Schedule     a maintenance schedule
 *   quotas/{role}            Quota
 *   weights/{role}           Weight
 *   frameworks/{id}          Framework    a registered framework
 * </pre>
 */
public final class Names {
  public static final String MASTER = "master";
  public static final String AGENTS = "agents/";
  public static final String MACHINES = "machines/";
  public static final String SCHEDULES = "schedules/";
  public static final String QUOTAS = "quotas/";
  public static final String WEIGHTS = "weights/";
  public static final String FRAMEWORKS = "frameworks/";

  private Names() {}

  public static String agent(String id) {
    return AGENTS + id;
  }

  /** Hostnames compare without case, as in Mesos; the IP as written. */
  public static String machine(MachineID id) {
    return MACHINES + id.getHostname().toLowerCase(Locale.ROOT) + "@" + id.getIp();
  }

  public static String schedule(String name) {
    return SCHEDULES + name;
  }

  public static String quota(String role) {
    return QUOTAS + role;
  }

  public static String weight(String role) {
    return WEIGHTS + role;
  }

  public static String framework(String id) {
    return FRAMEWORKS + id;
  }

  /** The first name after every name that starts with {@code prefix}: for range scans. */
  static String after(String prefix) {
    return prefix.substring(0, prefix.length() - 1)
        + (char) (prefix.charAt(prefix.length() - 1) + 1);
  }
}
