package io.kmesos.crds.v1alpha1;

/** Group, version and shared validation of the kmesos API. */
public final class KmesosApi {
  public static final String GROUP = "kmesos.io";
  public static final String VERSION = "v1alpha1";
  public static final String CATEGORY = "kmesos";

  /**
   * A Mesos role: one or more {@code /}-separated components, none empty, none starting with {@code
   * .} or {@code -} (so never {@code .} or {@code ..}), no whitespace. This is a subset of what
   * Mesos accepts that is safe in any context a role name ends up in (paths, labels, metrics).
   */
  public static final String ROLE_PATTERN =
      "^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$";

  /**
   * Mesos sets no length; 255 is a file name's limit, and role names end up in paths and metrics.
   */
  public static final int ROLE_MAX_LENGTH = 255;

  /**
   * A hostname as Kubernetes names nodes (an RFC 1123 DNS subdomain: lowercase letters, digits,
   * {@code -} and {@code .}). Mesos compares hostnames without case; lowercase only means that two
   * spellings of one machine cannot both pass validation and then be refused by the registry.
   */
  public static final String HOSTNAME_PATTERN =
      "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

  public static final int HOSTNAME_MAX_LENGTH = 253;

  /** The longest IP literal (IPv6 with an embedded IPv4 address). */
  public static final int IP_MAX_LENGTH = 45;

  /** Resource and attribute names: 1 to 63 characters, letters and digits at both ends. */
  public static final String NAME_REGEX = "^[A-Za-z0-9]([A-Za-z0-9_./-]{0,61}[A-Za-z0-9])?$";

  public static final String NAME_RULE_TEXT =
      "1 to 63 characters: letters, digits, '_', '.', '-' or '/', "
          + "beginning and ending with a letter or digit";

  /** Resources per agent or per quota (Mesos has a handful: cpus, mem, disk, gpus, ports). */
  public static final int MAX_RESOURCES = 32;

  public static final int MAX_ATTRIBUTES = 64;
  public static final int ATTRIBUTE_VALUE_MAX_LENGTH = 256;

  /** JSONPath of the Ready condition's status, for printer columns. */
  public static final String READY_JSON_PATH = ".status.conditions[?(@.type==\"Ready\")].status";

  public static final String AGE_JSON_PATH = ".metadata.creationTimestamp";

  private KmesosApi() {}
}
