package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_EMPTY)
public class AgentStatus extends RegistryStatus {
  @Size(max = 64)
  @JsonPropertyDescription("The agent ID the registry assigned on admission (the object's UID).")
  private String agentId;

  @JsonPropertyDescription("The agent's state in the registry: Admitted, Unreachable or Gone.")
  private String state;

  // Reported by the agent itself (field manager kmesos-agent, status subresource, server-side
  // apply), at most every --status-interval: what it runs now. The controller's fields above are
  // its own; each manager owns its fields, so neither write clobbers the other's.

  @Min(0)
  @JsonPropertyDescription(
      "Reported by the agent: how many tasks it runs (launched and not yet ended).")
  private Integer tasksRunning;

  @Size(max = KmesosApi.MAX_RESOURCES)
  @JsonPropertyDescription(
      "Reported by the agent: the resources its tasks hold, by name (cpus, mem in MB, disk in MB, gpus).")
  private Map<String, Double> resourcesUsed;

  @Size(max = KmesosApi.MAX_RESOURCES)
  @JsonPropertyDescription(
      "Reported by the agent: the resources it offers that no task holds, by name.")
  private Map<String, Double> resourcesFree;

  @JsonPropertyDescription(
      "When the agent last reported tasksRunning, resourcesUsed and resourcesFree (RFC 3339).")
  private String reportedAt;

  public Integer getTasksRunning() {
    return tasksRunning;
  }

  public void setTasksRunning(Integer tasksRunning) {
    this.tasksRunning = tasksRunning;
  }

  public Map<String, Double> getResourcesUsed() {
    return resourcesUsed;
  }

  public void setResourcesUsed(Map<String, Double> resourcesUsed) {
    this.resourcesUsed = resourcesUsed;
  }

  public Map<String, Double> getResourcesFree() {
    return resourcesFree;
  }

  public void setResourcesFree(Map<String, Double> resourcesFree) {
    this.resourcesFree = resourcesFree;
  }

  public String getReportedAt() {
    return reportedAt;
  }

  public void setReportedAt(String reportedAt) {
    this.reportedAt = reportedAt;
  }

  public String getAgentId() {
    return agentId;
  }

  public void setAgentId(String agentId) {
    this.agentId = agentId;
  }

  public String getState() {
    return state;
  }

  public void setState(String state) {
    this.state = state;
  }
}
