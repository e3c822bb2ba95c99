package io.kmesos.registry;

import io.kmesos.api.registry.v1.AgentInfo;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.MachineID;
import io.kmesos.api.registry.v1.Quota;
import io.kmesos.api.registry.v1.Unavailability;
import io.kmesos.api.v1.FrameworkInfo;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What a well-formed operation looks like (Mesos rules), checked before it touches the registry.
 * Every failure names the field.
 */
final class Validation {
  private Validation() {}

  /**
   * Mesos role names: not empty, not {@code .} or {@code ..}, not starting with {@code -}, no
   * whitespace, control characters or backslash; hierarchical roles are {@code /}-separated
   * segments that each follow the same rules (no empty segment). {@code *}, the default role, is
   * valid alone; {@code allowDefault} says whether the operation accepts it.
   */
  static void role(String field, String role, boolean allowDefault) {
    if (role.equals("*")) {
      if (!allowDefault) {
        throw refused(field + ": the default role '*' is not allowed here");
      }
      return;
    }
    if (role.isEmpty()) {
      throw refused(field + " must not be empty");
    }
    for (String segment : role.split("/", -1)) {
      if (segment.isEmpty()) {
        throw refused(
            field + " '" + role + "': empty path segment (leading, trailing or double '/')");
      }
      if (segment.equals(".") || segment.equals("..")) {
        throw refused(field + " '" + role + "': '" + segment + "' is not a valid role segment");
      }
      if (segment.startsWith("-")) {
        throw refused(field + " '" + role + "': a role segment must not start with '-'");
      }
      if (segment.equals("*")) {
        throw refused(field + " '" + role + "': '*' is not allowed inside a hierarchical role");
      }
      for (char c : segment.toCharArray()) {
        if (Character.isWhitespace(c) || Character.isISOControl(c) || c == '\\') {
          throw refused(
              field + " '" + role + "': invalid character " + String.format("U+%04X", (int) c));
        }
      }
    }
  }

  static void quantities(String field, Map<String, Double> resources) {
    for (Map.Entry<String, Double> r : resources.entrySet()) {
      if (r.getKey().isBlank()) {
        throw refused(field + ": a resource needs a name");
      }
      double v = r.getValue();
      if (!Double.isFinite(v) || v < 0) {
        throw refused(field + "[" + r.getKey() + "] must be a non-negative number, not " + v);
      }
    }
  }

  static void agent(String field, AgentInfo info) {
    if (info.getId().isBlank()) {
      throw refused(field + ".id must not be empty");
    }
    if (info.getHostname().isBlank()) {
      throw refused(field + ".hostname must not be empty");
    }
    quantities(field + ".resources", info.getResourcesMap());
  }

  /**
   * A framework record: an ID usable as a variable name (no '/', not '.' or '..'), valid roles each
   * named once ('*' allowed), no negative failover timeout, and when it registered.
   */
  static void framework(String field, Framework f) {
    if (!f.hasInfo()) {
      throw refused(field + ".info is required");
    }
    FrameworkInfo info = f.getInfo();
    String id = info.getId();
    if (id.isBlank()) {
      throw refused(field + ".info.id must not be empty");
    }
    if (id.contains("/") || id.equals(".") || id.equals("..")) {
      throw refused(field + ".info.id '" + id + "' may not hold '/' or be '.' or '..'");
    }
    Set<String> roles = new HashSet<>();
    for (int i = 0; i < info.getRolesCount(); i++) {
      String role = info.getRoles(i);
      role(field + ".info.roles[" + i + "]", role, true);
      if (!roles.add(role)) {
        throw refused(field + ".info.roles[" + i + "]: role '" + role + "' appears twice");
      }
    }
    if (info.getFailoverTimeout().getSeconds() < 0 || info.getFailoverTimeout().getNanos() < 0) {
      throw refused(field + ".info.failover_timeout must not be negative");
    }
    if (!f.hasRegisteredAt()) {
      throw refused(field + ".registered_at is required");
    }
  }

  static void quota(Quota q) {
    role("quota.role", q.getRole(), false);
    quantities("quota.guarantees", q.getGuaranteesMap());
    quantities("quota.limits", q.getLimitsMap());
    for (Map.Entry<String, Double> g : q.getGuaranteesMap().entrySet()) {
      Double limit = q.getLimitsMap().get(g.getKey());
      if (limit != null && g.getValue() > limit) {
        throw refused(
            "quota.guarantees["
                + g.getKey()
                + "] = "
                + g.getValue()
                + " exceeds quota.limits["
                + g.getKey()
                + "] = "
                + limit);
      }
    }
  }

  static void machine(String field, MachineID id) {
    if (id.getHostname().isBlank() && id.getIp().isBlank()) {
      throw refused(field + ": a machine needs a hostname or an ip");
    }
    if (!id.getIp().isEmpty() && !isIpLiteral(id.getIp())) {
      throw refused(field + ".ip '" + id.getIp() + "' is not an IPv4 or IPv6 address");
    }
  }

  static void unavailability(String field, Unavailability u) {
    if (!u.hasStart()) {
      throw refused(field + ".start is required");
    }
    if (!u.hasDuration()
        || u.getDuration().getSeconds() < 0
        || (u.getDuration().getSeconds() == 0 && u.getDuration().getNanos() <= 0)) {
      throw refused(field + ".duration must be positive");
    }
  }

  private static boolean isIpLiteral(String ip) {
    if (ip.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
      for (String part : ip.split("\\.")) {
        if (Integer.parseInt(part) > 255) {
          return false;
        }
      }
      return true;
    }
    if (ip.contains(":") && ip.matches("[0-9A-Fa-f:.]+")) {
      try {
        InetAddress.getByName(ip); // a literal: no lookup happens
        return true;
      } catch (UnknownHostException e) {
        return false;
      }
    }
    return false;
  }

  static OperationRefusedException refused(String message) {
    return new OperationRefusedException(message);
  }
}
