package io.kmesos.controller.reconcile;

import com.google.protobuf.util.Timestamps;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;
import io.kmesos.api.registry.v1.AdmitAgent;
import io.kmesos.api.registry.v1.AgentInfo;
import io.kmesos.api.registry.v1.AgentState;
import io.kmesos.api.registry.v1.MarkAgentGone;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.PruneAgents;
import io.kmesos.api.registry.v1.RemoveAgent;
import io.kmesos.api.registry.v1.UpdateAgent;
import io.kmesos.controller.Master;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.registry.Names;
import io.kmesos.registry.OperationRefusedException;
import io.kmesos.registry.Registrar;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An Agent resource is an agent in the registry: admitted when it appears, updated when its spec
 * changes, marked gone when {@code spec.gone} is set, removed (at most as fast as the removal rate
 * limit allows) when it is deleted. Its status follows the registry's state (Admitted, Unreachable,
 * Gone), also when the master changes it. Its agent ID is the resource's UID: stable for the
 * object's life, never reused, so re-reconciling admits it once and a re-created object is a new
 * agent.
 */
@ControllerConfiguration(name = "agent")
public final class AgentReconciler extends RegistryReconciler<Agent, AgentStatus> {
  private static final Logger log = LoggerFactory.getLogger(AgentReconciler.class);

  private final RemovalRateLimit removals;
  private final RegistryAgentStates states = new RegistryAgentStates();
  private final SimpleInboundEventSource<Agent> registryEvents =
      new SimpleInboundEventSource<>("registry-agent-states");

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
      AgentState state;
      if (held == null) {
        changed =
            apply(
                Operation.newBuilder()
                    .setAdmitAgent(AdmitAgent.newBuilder().setInfo(info(agent)))
                    .build());
        state = AgentState.ADMITTED;
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
      } else if (held.getState() == AgentState.ADMITTED && !agent.getSpec().gone()) {
        changed =
            apply(
                Operation.newBuilder()
                    .setUpdateAgent(UpdateAgent.newBuilder().setInfo(info(agent)))
                    .build());
        state = AgentState.ADMITTED;
      } else {
        changed = false;
        state = held.getState();
      }
      if (agent.getSpec().gone() && state != AgentState.GONE) {
        // Declared by an operator, so not through the removal rate limit (which guards against
        // the master's own health checks taking out many agents at once; Mesos does not limit
        // MARK_AGENT_GONE either). The master ends its tasks TASK_GONE_BY_OPERATOR, refuses it
        // for good and tells the agent, which kills its tasks and stops.
        apply(
            Operation.newBuilder()
                .setMarkAgentGone(
                    MarkAgentGone.newBuilder()
                        .setId(id)
                        .setAt(Timestamps.fromMillis(System.currentTimeMillis())))
                .build());
        changed = true;
        state = AgentState.GONE;
        log.info(
            "agent {} ({}) is marked gone in the registry (spec.gone)",
            agent.getMetadata().getName(),
            id);
        normalEvent(
            context,
            agent,
            "Gone",
            "MarkGone",
            "agent "
                + id
                + " is marked gone in the registry (spec.gone): its tasks are"
                + " TASK_GONE_BY_OPERATOR and it never comes back under this ID");
      }
      status.setState(
          switch (state) {
            case UNREACHABLE -> "Unreachable";
            case GONE -> "Gone";
            default -> "Admitted";
          });
      switch (state) {
        case UNREACHABLE ->
            refused(
                agent,
                status,
                "Unreachable",
                "agent "
                    + id
                    + " is unreachable in the registry: the master heard nothing from it for its"
                    + " unreachable timeout (or it did not re-register after a failover); it is"
                    + " admitted again with its tasks when it comes back");
        case GONE ->
            refused(
                agent,
                status,
                "Gone",
                "agent "
                    + id
                    + " is gone in the registry (spec.gone): it never comes back under this ID;"
                    + " delete this Agent to let the node's agent create a new one");
        default -> inRegistry(agent, status, changed, "agent " + id + " is admitted");
      }
      if (changed && state == AgentState.GONE) {
        status.setRegistryVersion(registrar().version());
      }
      states.shown(id, ResourceID.fromResource(agent), state);
    } catch (OperationRefusedException e) {
      refused(agent, status, "Refused", RefusalPaths.AGENT.translate(e.getMessage()));
    }
    return finish(agent, status);
  }

  /**
   * Agents are reconciled again when the registry changes their state on its own (the master marks
   * one unreachable, or admits it again), so that their status follows: a poll of the registry's
   * version on the master, from its recovery on.
   */
  @Override
  public List<EventSource<?, Agent>> prepareEventSources(EventSourceContext<Agent> context) {
    if (master != null) {
      master.whenRecovered(this::followRegistry);
    }
    return List.of(registryEvents);
  }

  private void followRegistry(Registrar registrar) {
    ScheduledExecutorService poll =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "agent-states");
              t.setDaemon(true);
              return t;
            });
    long[] seen = {-1};
    poll.scheduleWithFixedDelay(
        () -> {
          try {
            if (!master.leading() || registrar.failure() != null) {
              poll.shutdown();
              return;
            }
            long version = registrar.version();
            if (version == seen[0]) {
              return;
            }
            seen[0] = version;
            Map<String, AgentState> held = new HashMap<>();
            registrar
                .entries(Names.AGENTS)
                .forEach(
                    (name, entry) -> {
                      var a = (io.kmesos.api.registry.v1.Agent) entry;
                      held.put(a.getInfo().getId(), a.getState());
                    });
            for (ResourceID resource : states.behind(held)) {
              log.debug("Agent {}: its state changed in the registry; reconciling", resource);
              registryEvents.propagateEvent(resource);
            }
          } catch (RuntimeException e) {
            log.warn("could not follow the agents' states in the registry: {}", e.toString());
          }
        },
        STATE_POLL.toMillis(),
        STATE_POLL.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** How often the registry's version is looked at for agents' state changes. */
  static final Duration STATE_POLL = Duration.ofMillis(500);

  @Override
  public DeleteControl cleanup(Agent agent, Context<Agent> context) throws Exception {
    String id = agent.getMetadata().getUid();
    states.forget(id);
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
