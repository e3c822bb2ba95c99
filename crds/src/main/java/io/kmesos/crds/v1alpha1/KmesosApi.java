package io.kmesos.crds.v1alpha1;

/** Group, version and shared validation of the kmesos API. */
public final class KmesosApi {
  public static final String GROUP = "kmesos.io";
  public static final String VERSION = "v1alpha1";
  public static final String CATEGORY = "kmesos";

  /**
   * A Mesos role: one or more {@code /}-separated components, none empty, none starting with
   * {@code .} or {@code -} (so never {@code .} or {@code ..}), no whitespace. This is a subset of what
   * Mesos accepts that is safe in any context a role name ends up in (paths, labels, metrics).
   */
  public static final String ROLE_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$";

  /** JSONPath of the Ready condition's status, for printer columns. */
  public static final String READY_JSON_PATH = ".status.conditions[?(@.type==\"Ready\")].status";

  private KmesosApi() {}
}
