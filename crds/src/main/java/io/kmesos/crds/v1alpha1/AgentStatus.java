package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;

@JsonInclude(JsonInclude.Include.NON_EMPTY)
public class AgentStatus extends RegistryStatus {
  @Size(max = 64)
  @JsonPropertyDescription("The agent ID the registry assigned on admission (the object's UID).")
  private String agentId;

  @JsonPropertyDescription("The agent's state in the registry: Admitted, Unreachable or Gone.")
  private String state;

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
