package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * A machine as Mesos identifies it: by hostname, IP, or both; two entries are the same machine when
 * both agree (hostnames are lowercase, so this is Mesos's case-insensitive comparison).
 */
@ValidationRule(
    value = "has(self.hostname) || has(self.ip)",
    message = "a machine needs a hostname or an ip")
public class MachineId {
  // CEL for rules on lists of machines (annotation values must be constants): whether two machines,
  // named by their CEL variables, are the same, either field possibly absent. Lowercase hostnames
  // make plain equality Mesos's case-insensitive comparison.
  static final String SAME_M_X =
      "(has(m.hostname) ? m.hostname : '') == (has(x.hostname) ? x.hostname : '')"
          + " && (has(m.ip) ? m.ip : '') == (has(x.ip) ? x.ip : '')";
  static final String SAME_D_X =
      "(has(d.hostname) ? d.hostname : '') == (has(x.hostname) ? x.hostname : '')"
          + " && (has(d.ip) ? d.ip : '') == (has(x.ip) ? x.ip : '')";

  @Size(min = 1, max = KmesosApi.HOSTNAME_MAX_LENGTH)
  @Pattern(KmesosApi.HOSTNAME_PATTERN)
  @JsonPropertyDescription(
      "The machine's hostname: a DNS name as Kubernetes names nodes (lowercase letters, digits, "
          + "'-' and '.', at most 253 characters).")
  private String hostname;

  @Size(min = 1, max = KmesosApi.IP_MAX_LENGTH)
  @ValidationRule(
      value = "isIP(self) && ip.isCanonical(self)",
      message =
          "ip must be an IPv4 or IPv6 address in canonical form, e.g. 10.0.0.7 or 2001:db8::7")
  @JsonPropertyDescription(
      "The machine's IP address, IPv4 or IPv6 in canonical form (e.g. 10.0.0.7, 2001:db8::7).")
  private String ip;

  public MachineId() {}

  public MachineId(String hostname, String ip) {
    this.hostname = hostname;
    this.ip = ip;
  }

  public String getHostname() {
    return hostname;
  }

  public void setHostname(String hostname) {
    this.hostname = hostname;
  }

  public String getIp() {
    return ip;
  }

  public void setIp(String ip) {
    this.ip = ip;
  }
}
