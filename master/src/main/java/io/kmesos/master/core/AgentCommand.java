package io.kmesos.master.core;

import io.kmesos.api.agent.v1.MasterMessage;
import java.util.Objects;

/**
 * A message for the session of one agent: the shell writes {@code message} to that agent's current
 * session. The core only addresses agents it holds as connected; if the session broke meanwhile the
 * message is dropped, which the protocol allows (run_task and kill_task are not retried; what
 * matters comes back with the agent's re-registration).
 */
public record AgentCommand(String agentId, MasterMessage message) {
  public AgentCommand {
    Objects.requireNonNull(agentId, "agentId");
    Objects.requireNonNull(message, "message");
  }
}
