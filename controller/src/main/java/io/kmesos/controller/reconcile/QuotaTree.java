package io.kmesos.controller.reconcile;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Mesos's rule for hierarchical quota ({@code QuotaTree} in {@code master/quota_handler.cpp}): a
 * role's guarantees must contain the sum of its child roles' guarantees, and a role without a quota
 * guarantees nothing (so a child of such a role may guarantee nothing either). Mesos refuses an
 * UPDATE_QUOTA (and a quota removal) after which this no longer holds; so does the controller,
 * before it writes a quota into the registry. Limits are not checked, as in Mesos.
 *
 * <p>Only the two places a change to one role can break are checked: the role's parent (the role's
 * guarantees with its siblings') and the role itself (its children's).
 */
final class QuotaTree {
  /** Why a quota cannot be stored: the condition's reason and a message naming the field. */
  record Violation(String reason, String message) {}

  static final String EXCEEDS_PARENT = "ExceedsParentGuarantees";
  static final String BELOW_CHILDREN = "BelowChildrenGuarantees";

  private QuotaTree() {}

  /** The role one level up, or null for a top-level role. */
  static String parent(String role) {
    int slash = role.lastIndexOf('/');
    return slash < 0 ? null : role.substring(0, slash);
  }

  /**
   * Whether {@code role} may guarantee {@code guarantees} (null: its quota is removed) while the
   * registry holds {@code held} (role → guarantees, including the role's current quota, if any).
   */
  static Violation check(
      String role, Map<String, Double> guarantees, Map<String, Map<String, Double>> held) {
    Map<String, Map<String, Double>> after = new TreeMap<>(held);
    if (guarantees == null) {
      after.remove(role);
    } else {
      after.put(role, guarantees);
    }
    String parent = parent(role);
    if (guarantees != null && parent != null) {
      Map<String, Double> children = childrenSum(parent, after);
      Map<String, Double> parentGuarantees = after.getOrDefault(parent, Map.of());
      String over = exceeding(children, parentGuarantees);
      if (over != null) {
        List<String> siblings =
            children(parent, after).stream().filter(r -> !r.equals(role)).toList();
        return new Violation(
            EXCEEDS_PARENT,
            "spec.guarantees: role "
                + role
                + (siblings.isEmpty()
                    ? ""
                    : " with its sibling roles (" + String.join(", ", siblings) + ")")
                + " would be guaranteed more than its parent role "
                + parent
                + " guarantees ("
                + (after.containsKey(parent)
                    ? describe(parentGuarantees)
                    : "nothing: it has no quota")
                + "): "
                + over
                + "; a role's guarantees must contain the sum of its child roles' guarantees");
      }
    }
    Map<String, Double> children = childrenSum(role, after);
    String under = exceeding(children, guarantees == null ? Map.of() : guarantees);
    if (under != null) {
      String names = String.join(", ", children(role, after));
      return new Violation(
          BELOW_CHILDREN,
          (guarantees == null
                  ? "role "
                      + role
                      + " cannot lose its quota while its child roles ("
                      + names
                      + ") are guaranteed something: "
                  : "spec.guarantees: role "
                      + role
                      + " would guarantee less than its child roles ("
                      + names
                      + ") are: ")
              + under
              + "; a role's guarantees must contain the sum of its child roles' guarantees");
    }
    return null;
  }

  private static List<String> children(String role, Map<String, Map<String, Double>> quotas) {
    return quotas.keySet().stream().filter(r -> role.equals(parent(r))).toList();
  }

  private static Map<String, Double> childrenSum(
      String role, Map<String, Map<String, Double>> quotas) {
    Map<String, Double> sum = new TreeMap<>();
    for (String child : children(role, quotas)) {
      quotas.get(child).forEach((resource, amount) -> sum.merge(resource, amount, Double::sum));
    }
    return sum;
  }

  /**
   * The first resource of {@code needed} that {@code available} does not cover, described; null if
   * all are.
   */
  private static String exceeding(Map<String, Double> needed, Map<String, Double> available) {
    for (Map.Entry<String, Double> n : new TreeMap<>(needed).entrySet()) {
      double has = available.getOrDefault(n.getKey(), 0.0);
      // Mesos compares scalar quantities in thousandths (fixed point); so does this.
      if (Math.round(n.getValue() * 1000) > Math.round(has * 1000)) {
        return n.getKey() + " " + format(n.getValue()) + " > " + format(has);
      }
    }
    return null;
  }

  private static String describe(Map<String, Double> quantities) {
    if (quantities.isEmpty()) {
      return "nothing";
    }
    StringBuilder out = new StringBuilder();
    new TreeMap<>(quantities)
        .forEach(
            (r, v) ->
                out.append(out.length() == 0 ? "" : ", ").append(r).append(' ').append(format(v)));
    return out.toString();
  }

  private static String format(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
