package io.kmesos.master.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.scheduler.v1.AcceptRequest;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.DeclineRequest;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.KillRequest;
import io.kmesos.api.scheduler.v1.Operation;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A core under test with a hand-moved clock, and the few calls every test makes, written the way a
 * scheduler and an agent would make them. Holds no state of its own besides the clock and the
 * counter that makes update UUIDs.
 */
final class Harness {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final MasterInfo MASTER = MasterInfo.newBuilder().setId("m1").setAddress("m:5050").build();
  static final String PRINCIPAL = "spiffe://kmesos/framework";

  final MasterCore core;
  Instant now = T0;
  private int uuids;

  Harness() {
    this(MasterConfig.defaults(MASTER));
  }

  Harness(MasterConfig config) {
    this(config, "m1");
  }

  /** A core whose IDs start with {@code idPrefix} (another master run). */
  Harness(MasterConfig config, String idPrefix) {
    core = new MasterCore(config, IdSource.sequential(idPrefix));
  }

  static Resources r(String text) {
    return Resources.parse(text);
  }

  Instant advance(Duration d) {
    now = now.plus(d);
    return now;
  }

  Instant advanceSeconds(double seconds) {
    return advance(Duration.ofMillis(Math.round(seconds * 1000)));
  }

  // ---- frameworks ----

  /** A subscribed framework: its ID and stream ID. */
  record Fw(String id, String stream) {}

  static FrameworkInfo.Builder info(String name, String... roles) {
    return FrameworkInfo.newBuilder().setName(name).addAllRoles(List.of(roles));
  }

  Fw subscribe(FrameworkInfo.Builder info) {
    Effects e =
        core.subscribe(
            SubscribeRequest.newBuilder().setFrameworkInfo(info).build(), PRINCIPAL, now);
    assertThat(e.refusal()).isEmpty();
    Event.Subscribed s = e.events().get(e.events().size() - 1).event().getSubscribed();
    return new Fw(s.getFrameworkId(), s.getStreamId());
  }

  Effects subscribeRaw(FrameworkInfo.Builder info, String principal) {
    return core.subscribe(
        SubscribeRequest.newBuilder().setFrameworkInfo(info).build(), principal, now);
  }

  // ---- agents ----

  Effects agent(String id, String resources) {
    return core.agentRegistered(id, id + ".example.com", r(resources), now);
  }

  /** The offers of a tick, by framework ID. */
  Effects tick() {
    return core.tick(now);
  }

  static List<Offer> offers(Effects e, String frameworkId) {
    List<Offer> list = new ArrayList<>();
    for (FrameworkEvent fe : e.eventsFor(frameworkId)) {
      if (fe.event().hasOffers()) {
        list.addAll(fe.event().getOffers().getOffersList());
      }
    }
    return list;
  }

  static List<TaskStatus> updates(Effects e, String frameworkId) {
    List<TaskStatus> list = new ArrayList<>();
    for (FrameworkEvent fe : e.eventsFor(frameworkId)) {
      if (fe.event().hasUpdate()) {
        list.add(fe.event().getUpdate().getStatus());
      }
    }
    return list;
  }

  static List<MasterMessage> commands(Effects e, String agentId) {
    return e.commandsFor(agentId).stream().map(AgentCommand::message).toList();
  }

  static List<Event.KindCase> kinds(Effects e, String frameworkId) {
    return e.eventsFor(frameworkId).stream().map(fe -> fe.event().getKindCase()).toList();
  }

  // ---- scheduler calls ----

  static TaskInfo task(String id, String agentId, String resources) {
    return TaskInfo.newBuilder()
        .setTaskId(id)
        .setName(id)
        .setAgentId(agentId)
        .addAllResources(ResourceProtos.write(r(resources)))
        .setCommand(CommandInfo.newBuilder().setValue("sleep 10"))
        .build();
  }

  static AcceptRequest.Builder accept(Fw fw, List<String> offerIds, TaskInfo... tasks) {
    return AcceptRequest.newBuilder()
        .setFrameworkId(fw.id())
        .setStreamId(fw.stream())
        .addAllOfferIds(offerIds)
        .addOperations(
            Operation.newBuilder()
                .setLaunch(Operation.Launch.newBuilder().addAllTasks(List.of(tasks))));
  }

  Effects accept(Fw fw, Offer offer, TaskInfo... tasks) {
    return core.accept(accept(fw, List.of(offer.getId()), tasks).build(), PRINCIPAL, now);
  }

  Effects accept(AcceptRequest.Builder request) {
    return core.accept(request.build(), PRINCIPAL, now);
  }

  Effects decline(Fw fw, Offer offer, Duration refuse) {
    DeclineRequest.Builder d =
        DeclineRequest.newBuilder()
            .setFrameworkId(fw.id())
            .setStreamId(fw.stream())
            .addOfferIds(offer.getId());
    if (refuse != null) {
      d.getFiltersBuilder().setRefuse(Durations.fromMillis(refuse.toMillis()));
    }
    return core.decline(d.build(), PRINCIPAL, now);
  }

  Effects kill(Fw fw, String taskId) {
    return core.kill(
        KillRequest.newBuilder()
            .setFrameworkId(fw.id())
            .setStreamId(fw.stream())
            .setTaskId(taskId)
            .build(),
        PRINCIPAL,
        now);
  }

  Effects reconcile(Fw fw, String... taskIds) {
    ReconcileRequest.Builder r =
        ReconcileRequest.newBuilder().setFrameworkId(fw.id()).setStreamId(fw.stream());
    for (String id : taskIds) {
      r.addTasks(ReconcileRequest.Task.newBuilder().setTaskId(id));
    }
    return core.reconcile(r.build(), PRINCIPAL, now);
  }

  Effects acknowledge(Fw fw, TaskStatus status) {
    return core.acknowledge(
        AcknowledgeRequest.newBuilder()
            .setFrameworkId(fw.id())
            .setStreamId(fw.stream())
            .setAgentId(status.getAgentId())
            .setTaskId(status.getTaskId())
            .setUuid(status.getUuid())
            .build(),
        PRINCIPAL,
        now);
  }

  // ---- agent messages ----

  /** An agent's status update with a fresh uuid. */
  TaskStatus agentStatus(String frameworkId, String agentId, String taskId, TaskState state) {
    return TaskStatus.newBuilder()
        .setFrameworkId(frameworkId)
        .setAgentId(agentId)
        .setTaskId(taskId)
        .setState(state)
        .setSource(TaskStatus.Source.SOURCE_EXECUTOR)
        .setUuid(ByteString.copyFromUtf8(String.format("uuid-%012d", uuids++)))
        .setTimestamp(MasterStatuses.timestamp(now))
        .build();
  }

  Effects statusUpdate(TaskStatus status) {
    return core.statusUpdate(
        status.getAgentId(),
        StatusUpdate.newBuilder().setFrameworkId(status.getFrameworkId()).setStatus(status).build(),
        now);
  }
}
