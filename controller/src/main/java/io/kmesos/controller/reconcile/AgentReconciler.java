package io.kmesos.controller.reconcile;

import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.kmesos.api.registry.v1.AdmitAgent;
import io.kmesos.api.registry.v1.AgentInfo;
import io.kmesos.api.registry.v1.AgentState;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.PruneAgents;
import io.kmesos.api.registry.v1.RemoveAgent;
import io.kmesos.api.registry.v1.UpdateAgent;
import io.kmesos.controller.Master;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.registry.Names;
import io.kmesos.registry.OperationRefusedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An Agent resource is an agent in the registry: admitted when it appears, updated when its spec
 * changes, removed (at most as fast as the removal rate limit allows) when it is deleted. Its agent
 * ID is the resource's UID: stable for the object's life, never reused, so re-reconciling admits it
 * once and a re-created object is a new agent.
 */
@ControllerConfiguration(name = "agent")
public final class AgentReconciler extends RegistryReconciler<Agent, AgentStatus> {
  private static final Logger log = LoggerFactory.getLogger(AgentReconciler.class);

  private final RemovalRateLimit removals;

  public AgentReconciler(Master master, RemovalRateLimit removals) {
    super(master, AgentStatus.class);
    this.removals = removals;
  }

  static AgentInfo info(Agent agent) {
    return AgentInfo.newBuilder()
        .setId(agent.getMetadata().getUid())
        .setHostname(agent.getSpec().getHostname())
        .putAllResources(agent.getSpec().getResources())
        .putAllAttributes(agent.getSpec().getAttributes())
        .build();
  }

  @Override
  public UpdateControl<Agent> reconcile(Agent agent, Context<Agent> context) throws Exception {
    AgentStatus status = newStatus(agent);
    String id = agent.getMetadata().getUid();
    io.kmesos.api.registry.v1.Agent held =
        registrar().entry(Names.agent(id), io.kmesos.api.registry.v1.Agent.class);
    status.setAgentId(id);
    try {
      boolean changed;
      if (held == null) {
        changed =
            apply(
                Operation.newBuilder()
                    .setAdmitAgent(AdmitAgent.newBuilder().setInfo(info(agent)))
                    .build());
        if (changed) {
          normalEvent(
              context,
              agent,
              "Admitted",
              "Admit",
              "agent "
                  + id
                  + " ("
                  + agent.getSpec().getHostname()
                  + ") is admitted into the registry");
        }
      } else if (held.getState() == AgentState.ADMITTED) {
        changed =
            apply(
                Operation.newBuilder()
                    .setUpdateAgent(UpdateAgent.newBuilder().setInfo(info(agent)))
                    .build());
      } else {
        changed = false;
      }
      AgentState state = held == null ? AgentState.ADMITTED : held.getState();
      status.setState(
          switch (state) {
            case UNREACHABLE -> "Unreachable";
            case GONE -> "Gone";
            default -> "Admitted";
          });
      if (state == AgentState.ADMITTED) {
        inRegistry(agent, status, changed, "agent " + id + " is admitted");
      } else {
        refused(
            agent,
            status,
            status.getState(),
            "agent " + id + " is " + status.getState().toLowerCase() + " in the registry");
      }
    } catch (OperationRefusedException e) {
      refused(agent, status, "Refused", RefusalPaths.AGENT.translate(e.getMessage()));
    }
    return finish(agent, status);
  }

  @Override
  public DeleteControl cleanup(Agent agent, Context<Agent> context) throws Exception {
    String id = agent.getMetadata().getUid();
    io.kmesos.api.registry.v1.Agent held =
        registrar().entry(Names.agent(id), io.kmesos.api.registry.v1.Agent.class);
    if (held == null) {
      return DeleteControl.defaultDelete();
    }
    // A token is spent even if the removal below then fails (say, mastership is lost): the limit
    // errs towards removing more slowly, never faster.
    long wait = removals.acquire();
    if (wait > 0) {
      normalEvent(
          context,
          agent,
          "RemovalRateLimited",
          "Remove",
          "the removal of agent "
              + id
              + " is held back "
              + wait
              + " ms by the agent removal rate limit");
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(wait);
    }
    String refusal =
        applyOrRefusal(
            held.getState() == AgentState.ADMITTED
                ? Operation.newBuilder().setRemoveAgent(RemoveAgent.newBuilder().setId(id)).build()
                : held.getState() == AgentState.UNREACHABLE
                    ? Operation.newBuilder()
                        .setPruneAgents(PruneAgents.newBuilder().addUnreachable(id))
                        .build()
                    : Operation.newBuilder()
                        .setPruneAgents(PruneAgents.newBuilder().addGone(id))
                        .build());
    if (refusal == null) {
      normalEvent(
          context, agent, "Removed", "Remove", "agent " + id + " is removed from the registry");
    } else {
      log.info(
          "agent {} ({}): the registry refused its removal: {}",
          agent.getMetadata().getName(),
          id,
          refusal);
    }
    return DeleteControl.defaultDelete();
  }

  /** The agent reports what it runs itself (field manager kmesos-agent); those fields are its. */
  @Override
  protected AgentStatus ownFields(AgentStatus status) {
    AgentStatus own = Conditions.copy(status, AgentStatus.class);
    own.setTasksRunning(null);
    own.setResourcesUsed(null);
    own.setResourcesFree(null);
    own.setReportedAt(null);
    return own;
  }
}
