package io.kmesos.master.core;

import static io.kmesos.master.core.Harness.commands;
import static io.kmesos.master.core.Harness.info;
import static io.kmesos.master.core.Harness.kinds;
import static io.kmesos.master.core.Harness.offers;
import static io.kmesos.master.core.Harness.r;
import static io.kmesos.master.core.Harness.task;
import static io.kmesos.master.core.Harness.updates;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.Durations;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.scheduler.v1.Event.KindCase;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.master.core.Harness.Fw;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Agents: registration, re-registration, sessions that end, removal. */
class AgentTest {
  final Harness h = new Harness();

  @Test
  void aRegisteredAgentIsAnsweredAndOffered() {
    Effects e = h.agent("ag1", "cpus:2;mem:512");
    assertThat(commands(e, "ag1"))
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.getRegistered().getAgentId()).isEqualTo("ag1");
              assertThat(m.getRegistered().getMasterInfo()).isEqualTo(Harness.MASTER);
              assertThat(m.getRegistered().getPingInterval()).isEqualTo(Durations.fromSeconds(15));
            });
    Fw f = h.subscribe(info("f", "web"));
    Offer offer = offers(h.tick(), f.id()).get(0);
    assertThat(offer.getAgentId()).isEqualTo("ag1");
    assertThat(offer.getHostname()).isEqualTo("ag1.example.com");
    assertThat(offer.getFrameworkId()).isEqualTo(f.id());
    assertThat(ResourceProtos.read(offer.getResourcesList())).isEqualTo(r("cpus:2;mem:512"));
  }

  @Test
  void aDisconnectedAgentsOffersAreRescindedAndItIsNotOffered() {
    Fw f = h.subscribe(info("f", "web"));
    h.agent("ag1", "cpus:2;mem:512");
    Offer offer = offers(h.tick(), f.id()).get(0);
    Effects e = h.core.agentDisconnected("ag1", h.now);
    assertThat(kinds(e, f.id())).containsExactly(KindCase.RESCIND);
    assertThat(e.events().get(0).event().getRescind().getOfferId()).isEqualTo(offer.getId());
    assertThat(h.tick().events()).isEmpty();
    assertThat(h.accept(f, offer).refusal().get().message())
        .isEqualTo("offer '" + offer.getId() + "' is rescinded");
  }

  /** f (not partition-aware) and g (partition-aware), each with a RUNNING and a STAGING task. */
  Fw[] twoFrameworksWithTasks() {
    Fw f = h.subscribe(info("f", "web"));
    Fw g = h.subscribe(info("g", "web").addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE));
    h.agent("ag1", "cpus:8;mem:1024");
    h.agent("ag2", "cpus:8;mem:1024");
    Effects tick = h.tick();
    Offer fo = offers(tick, f.id()).get(0);
    Offer go = offers(tick, g.id()).get(0);
    h.accept(
        f,
        fo,
        task("f-run", fo.getAgentId(), "cpus:1;mem:64"),
        task("f-stage", fo.getAgentId(), "cpus:1;mem:64"));
    h.accept(
        g,
        go,
        task("g-run", go.getAgentId(), "cpus:1;mem:64"),
        task("g-stage", go.getAgentId(), "cpus:1;mem:64"));
    h.statusUpdate(h.agentStatus(f.id(), fo.getAgentId(), "f-run", TaskState.TASK_RUNNING));
    h.statusUpdate(h.agentStatus(g.id(), go.getAgentId(), "g-run", TaskState.TASK_RUNNING));
    assertThat(fo.getAgentId()).isEqualTo("ag1");
    assertThat(go.getAgentId()).isEqualTo("ag2");
    return new Fw[] {f, g};
  }

  Task listed(Fw fw, String agentId, String taskId, TaskState state) {
    return h.core.state().getTasksList().stream()
        .filter(t -> t.getInfo().getTaskId().equals(taskId))
        .findFirst()
        .orElseThrow()
        .toBuilder()
        .setState(state)
        .build();
  }

  @Test
  void reregistrationTakesTheListedTasksAsTheTruth() {
    Fw[] fg = twoFrameworksWithTasks();
    Fw f = fg[0];
    Task run = listed(f, "ag1", "f-run", TaskState.TASK_RUNNING);
    h.core.agentDisconnected("ag1", h.now);
    h.advanceSeconds(10);
    // ag1 comes back holding f-run only: f-stage's run_task was lost with the session.
    Effects e =
        h.core.agentReregistered(
            "ag1", "ag1.example.com", r("cpus:8;mem:1024"), List.of(run), List.of(), h.now);
    assertThat(commands(e, "ag1"))
        .extracting(MasterMessage::getKindCase)
        .containsExactly(MasterMessage.KindCase.REREGISTERED);
    TaskStatus dropped = updates(e, f.id()).get(0);
    assertThat(dropped.getTaskId()).isEqualTo("f-stage");
    assertThat(dropped.getState()).isEqualTo(TaskState.TASK_LOST); // DROPPED, f is not aware
    assertThat(dropped.getReason()).isEqualTo(TaskStatus.Reason.REASON_TASK_UNKNOWN);
    assertThat(dropped.getSource()).isEqualTo(TaskStatus.Source.SOURCE_MASTER);
    assertThat(h.core.state().getTasksList())
        .extracting(t -> t.getInfo().getTaskId())
        .containsExactly("f-run", "g-run", "g-stage");
    // f-run's resources are charged again: ag1 offers the rest.
    assertThat(ResourceProtos.read(offers(h.tick(), f.id()).get(0).getResourcesList()))
        .isEqualTo(r("cpus:7;mem:960"));
  }

  @Test
  void aPlainRegistrationEndsEveryTaskOfTheAgent() {
    Fw[] fg = twoFrameworksWithTasks();
    Fw g = fg[1];
    Effects e = h.agent("ag2", "cpus:8;mem:1024");
    assertThat(updates(e, g.id()))
        .extracting(s -> s.getTaskId() + ":" + s.getState() + ":" + s.getReason())
        .containsExactly(
            "g-run:TASK_GONE:REASON_AGENT_RESTARTED", "g-stage:TASK_DROPPED:REASON_TASK_UNKNOWN");
    assertThat(h.core.state().getTasksList())
        .extracting(t -> t.getInfo().getTaskId())
        .containsExactly("f-run", "f-stage");
  }

  @Test
  void aRemovedAgentsTasksEndAndEveryFrameworkHearsOfIt() {
    Fw[] fg = twoFrameworksWithTasks();
    Fw f = fg[0];
    Fw g = fg[1];
    Effects e = h.core.agentRemoved("ag1", AgentRemoval.REMOVED, h.now);
    assertThat(updates(e, f.id()))
        .extracting(s -> s.getTaskId() + ":" + s.getState() + ":" + s.getReason())
        .containsExactly(
            "f-run:TASK_LOST:REASON_AGENT_REMOVED", "f-stage:TASK_LOST:REASON_AGENT_REMOVED");
    assertThat(kinds(e, g.id())).containsExactly(KindCase.FAILURE);
    assertThat(e.eventsFor(g.id()).get(0).event().getFailure().getAgentId()).isEqualTo("ag1");
    assertThat(h.core.state().getAgentsList()).extracting(a -> a.getId()).containsExactly("ag2");

    Effects gone = h.core.agentRemoved("ag2", AgentRemoval.GONE_BY_OPERATOR, h.now);
    assertThat(updates(gone, g.id()))
        .extracting(s -> s.getTaskId() + ":" + s.getState())
        .containsExactly("g-run:TASK_GONE_BY_OPERATOR", "g-stage:TASK_GONE_BY_OPERATOR");
    assertThat(h.core.state().getTasksList()).isEmpty();
  }

  @Test
  void aNewMasterRelearnsFrameworksAndTasksFromAgentsAndTheFrameworkComesBack() {
    // The agent's view, as it re-registers with a master that just failed over.
    FrameworkInfo web =
        info("web", "web")
            .setId("m0-0007")
            .setPrincipal(Harness.PRINCIPAL)
            .setFailoverTimeout(Durations.fromSeconds(3600))
            .build();
    TaskInfo info = task("t1", "ag1", "cpus:1;mem:128");
    Task running =
        Task.newBuilder()
            .setInfo(info)
            .setFrameworkId("m0-0007")
            .setState(TaskState.TASK_RUNNING)
            .setLatestStatus(h.agentStatus("m0-0007", "ag1", "t1", TaskState.TASK_RUNNING))
            .build();
    Effects e =
        h.core.agentReregistered(
            "ag1", "ag1.example.com", r("cpus:4;mem:1024"), List.of(running), List.of(web), h.now);
    assertThat(commands(e, "ag1"))
        .extracting(MasterMessage::getKindCase)
        .containsExactly(MasterMessage.KindCase.REREGISTERED);
    assertThat(h.core.state().getFrameworks(0).getRecovered()).isTrue();
    assertThat(h.core.state().getFrameworks(0).getConnected()).isFalse();
    // A recovered framework gets no offers and no failover timer: it has not subscribed yet.
    h.advanceSeconds(7200);
    assertThat(h.tick()).isEqualTo(Effects.NONE);

    Fw back = h.subscribe(info("web", "web").setId("m0-0007"));
    assertThat(back.id()).isEqualTo("m0-0007");
    assertThat(h.core.state().getFrameworks(0).getRecovered()).isFalse();
    assertThat(updates(h.reconcile(back), back.id()))
        .extracting(s -> s.getTaskId() + ":" + s.getState())
        .containsExactly("t1:TASK_RUNNING");
    assertThat(ResourceProtos.read(offers(h.tick(), back.id()).get(0).getResourcesList()))
        .isEqualTo(r("cpus:3;mem:896"));
  }

  @Test
  void aTaskOfARemovedFrameworkGetsTheAgentAShutdown() {
    Fw f = h.subscribe(info("f", "web"));
    h.agent("ag1", "cpus:4;mem:1024");
    h.accept(f, offers(h.tick(), f.id()).get(0), task("t1", "ag1", "cpus:1"));
    Task t1 = listed(f, "ag1", "t1", TaskState.TASK_RUNNING);
    h.core.agentDisconnected("ag1", h.now);
    // f's subscription ends with no failover timeout: removed, while ag1 is away.
    Effects removed = h.core.disconnected(f.id(), f.stream(), h.now);
    assertThat(removed.commands()).isEmpty(); // ag1 has no session to hear it
    Effects e =
        h.core.agentReregistered(
            "ag1", "ag1.example.com", r("cpus:4;mem:1024"), List.of(t1), List.of(), h.now);
    assertThat(commands(e, "ag1"))
        .extracting(MasterMessage::getKindCase)
        .containsExactly(
            MasterMessage.KindCase.REREGISTERED, MasterMessage.KindCase.SHUTDOWN_FRAMEWORK);
    assertThat(h.core.state().getTasksList()).isEmpty();
    assertThat(h.core.state().getAgents(0).getUsedResourcesList()).isEmpty();
  }

  @Test
  void updatesFromAnAgentWithoutASessionAreIgnored() {
    Fw f = h.subscribe(info("f", "web"));
    assertThat(h.statusUpdate(h.agentStatus(f.id(), "ag9", "t1", TaskState.TASK_RUNNING)))
        .isEqualTo(Effects.NONE);
  }
}
