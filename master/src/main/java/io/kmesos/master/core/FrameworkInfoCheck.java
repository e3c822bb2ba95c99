package io.kmesos.master.core;

import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.master.allocator.Allocator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether a Subscribe's FrameworkInfo and suppressed roles are well formed (INVALID_ARGUMENT
 * otherwise), as Mesos's framework validation: valid role names, none twice, more than one only
 * with MULTI_ROLE, suppressed roles among them, no negative failover timeout, an ID the master can
 * use, and at most {@link #MAX_BYTES} in all.
 */
final class FrameworkInfoCheck {
  /**
   * The largest FrameworkInfo taken (serialized): the registry stores it, and a record it could not
   * store would cost the master its mastership.
   */
  static final int MAX_BYTES = 64 << 10;

  private FrameworkInfoCheck() {}

  /** What is wrong, in one line, or null. */
  static String problem(FrameworkInfo info, List<String> suppressedRoles) {
    if (info.getSerializedSize() > MAX_BYTES) {
      return "the FrameworkInfo has "
          + info.getSerializedSize()
          + " bytes; at most "
          + MAX_BYTES
          + " are taken (the registry stores it)";
    }
    String id = info.getId();
    if (id.contains("/") || id.equals(".") || id.equals("..") || (!id.isEmpty() && id.isBlank())) {
      return "framework ID '" + id + "' may not hold '/', be blank, or be '.' or '..'";
    }
    Set<String> roles = new HashSet<>();
    for (String role : info.getRolesList()) {
      try {
        Allocator.checkRole(role);
      } catch (IllegalArgumentException e) {
        return e.getMessage();
      }
      if (!roles.add(role)) {
        return "role '" + role + "' is named twice";
      }
    }
    if (roles.size() > 1
        && !info.getCapabilitiesList().contains(FrameworkInfo.Capability.MULTI_ROLE)) {
      return "a framework in " + roles.size() + " roles needs the MULTI_ROLE capability";
    }
    Set<String> effective = FrameworkState.rolesOf(info);
    for (String role : suppressedRoles) {
      if (!effective.contains(role)) {
        return "suppressed role '" + role + "' is not one of the framework's roles " + effective;
      }
    }
    if (info.hasFailoverTimeout()
        && (info.getFailoverTimeout().getSeconds() < 0
            || info.getFailoverTimeout().getNanos() < 0)) {
      return "failover_timeout is negative";
    }
    return null;
  }
}
