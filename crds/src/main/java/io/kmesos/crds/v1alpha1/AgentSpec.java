package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PrinterColumn;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.LinkedHashMap;
import java.util.Map;

@ValidationRule(value = "!has(self.resources) || self.resources.all(r, self.resources[r] >= 0.0)",
    message = "every quantity in spec.resources must be non-negative", fieldPath = ".resources")
public class AgentSpec {
  @Required
  @Size(min = 1, max = 253)
  @PrinterColumn(name = "Hostname")
  @JsonPropertyDescription("The agent's hostname, as in Mesos SlaveInfo.hostname.")
  private String hostname;

  @JsonPropertyDescription("The agent's resources by name (cpus, mem in MB, disk in MB, gpus).")
  private Map<String, Double> resources = new LinkedHashMap<>();

  @JsonPropertyDescription("Free-form attributes that frameworks may match on, e.g. rack: r1.")
  private Map<String, String> attributes = new LinkedHashMap<>();

  public String getHostname() {
    return hostname;
  }

  public void setHostname(String hostname) {
    this.hostname = hostname;
  }

  public Map<String, Double> getResources() {
    return resources;
  }

  public void setResources(Map<String, Double> resources) {
    this.resources = resources;
  }

  public Map<String, String> getAttributes() {
    return attributes;
  }

  public void setAttributes(Map<String, String> attributes) {
    this.attributes = attributes;
  }
}
