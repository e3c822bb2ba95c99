package io.kmesos.crds.v1alpha1;

import static io.kmesos.crds.v1alpha1.KmesosApi.NAME_REGEX;
import static io.kmesos.crds.v1alpha1.KmesosApi.NAME_RULE_TEXT;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PrinterColumn;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.LinkedHashMap;
import java.util.Map;

// On spec, not on the field: a rule on the field itself would not run when it is removed, and
// removing it would set it back to false.
@ValidationRule(
    value = "!has(oldSelf.gone) || !oldSelf.gone || (has(self.gone) && self.gone)",
    message =
        "spec.gone cannot be set back to false (or removed) once true: a gone agent never comes"
            + " back; delete this Agent and let the node's agent create a new one",
    fieldPath = ".gone")
public class AgentSpec {
  @Required
  @Size(min = 1, max = KmesosApi.HOSTNAME_MAX_LENGTH)
  @Pattern(KmesosApi.HOSTNAME_PATTERN)
  @PrinterColumn(name = "Hostname")
  @JsonPropertyDescription(
      "The agent's hostname, as in Mesos SlaveInfo.hostname: a DNS name as Kubernetes names "
          + "nodes (lowercase letters, digits, '-' and '.', at most 253 characters), e.g. node-a.cluster.local.")
  private String hostname;

  @Size(max = KmesosApi.MAX_RESOURCES)
  @ValidationRule(
      value = "self.all(r, r.matches('" + NAME_REGEX + "'))",
      message = "resource names are " + NAME_RULE_TEXT)
  @JsonPropertyDescription(
      "The agent's resources by name (cpus, mem in MB, disk in MB, gpus): at most 32, each a "
          + "non-negative quantity.")
  private Map<String, @Min(0) Double> resources = new LinkedHashMap<>();

  @Size(max = KmesosApi.MAX_ATTRIBUTES)
  @ValidationRule(
      value = "self.all(a, a.matches('" + NAME_REGEX + "'))",
      message = "attribute names are " + NAME_RULE_TEXT)
  @JsonPropertyDescription(
      "Free-form attributes that frameworks may match on, e.g. rack: r1: at most 64, values at "
          + "most 256 characters.")
  private Map<String, @Size(max = KmesosApi.ATTRIBUTE_VALUE_MAX_LENGTH) String> attributes =
      new LinkedHashMap<>();

  @JsonPropertyDescription(
      "Set true to declare the agent gone (Mesos MARK_AGENT_GONE), e.g. its machine was "
          + "decommissioned or will never run its tasks again: every task on it becomes "
          + "TASK_GONE_BY_OPERATOR, the master keeps it out for good and the agent, told so, kills its "
          + "tasks and stops. Cannot be set back to false; to bring the node back, delete the Agent "
          + "and let the node's agent create a new one (a new agent ID).")
  @JsonInclude(JsonInclude.Include.NON_NULL)
  private Boolean gone;

  public Boolean getGone() {
    return gone;
  }

  public void setGone(Boolean gone) {
    this.gone = gone;
  }

  /** Whether {@code spec.gone} is true. */
  public boolean gone() {
    return Boolean.TRUE.equals(gone);
  }

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
