package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.ValidationRule;

/** A machine as Mesos identifies it: by hostname, IP, or both. */
@ValidationRule(value = "has(self.hostname) || has(self.ip)", message = "a machine needs a hostname or an ip")
public class MachineId {
  @JsonPropertyDescription("The machine's hostname.")
  private String hostname;

  @JsonPropertyDescription("The machine's IP address.")
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
