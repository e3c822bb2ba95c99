package io.kmesos.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.kmesos.api.registry.v1.AdmitAgent;
import io.kmesos.api.registry.v1.Agent;
import io.kmesos.api.registry.v1.AgentInfo;
import io.kmesos.api.registry.v1.AgentState;
import io.kmesos.api.registry.v1.MachineID;
import io.kmesos.api.registry.v1.MachineMode;
import io.kmesos.api.registry.v1.MarkAgentGone;
import io.kmesos.api.registry.v1.MarkAgentReachable;
import io.kmesos.api.registry.v1.MarkAgentRegistered;
import io.kmesos.api.registry.v1.MarkAgentUnreachable;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.PruneAgents;
import io.kmesos.api.registry.v1.Quota;
import io.kmesos.api.registry.v1.RecordMaster;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.registry.v1.RemoveAgent;
import io.kmesos.api.registry.v1.RemoveQuota;
import io.kmesos.api.registry.v1.RemoveSchedule;
import io.kmesos.api.registry.v1.RemoveWeights;
import io.kmesos.api.registry.v1.Schedule;
import io.kmesos.api.registry.v1.StartMaintenance;
import io.kmesos.api.registry.v1.StopMaintenance;
import io.kmesos.api.registry.v1.Unavailability;
import io.kmesos.api.registry.v1.UpdateAgent;
import io.kmesos.api.registry.v1.UpdateQuota;
import io.kmesos.api.registry.v1.UpdateSchedule;
import io.kmesos.api.registry.v1.UpdateWeights;
import io.kmesos.api.registry.v1.Weight;
import io.kmesos.api.registry.v1.Window;
import java.util.List;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.Test;

/** Every registry operation on an in-memory registry: what it changes, and when it is refused. */
class OperationsTest {
  final RegistryContents registry = RegistryContents.of(List.of(), 0);
  long version;

  /** Applies {@code op} as the registrar would (its own transaction, kept only if it succeeds). */
  boolean apply(Operation op) {
    Transaction t = new Transaction(registry);
    boolean changed = Operations.apply(op, t);
    registry.apply(t, ++version);
    return changed;
  }

  Registry show() {
    return registry.toProto();
  }

  static AgentInfo agent(String id) {
    return AgentInfo.newBuilder()
        .setId(id)
        .setHostname(id + ".example.com")
        .setPort(5051)
        .putResources("cpus", 4)
        .putResources("mem", 8192)
        .build();
  }

  static Operation admit(String id) {
    return Operation.newBuilder().setAdmitAgent(AdmitAgent.newBuilder().setInfo(agent(id))).build();
  }

  static Operation unreachable(String id) {
    return Operation.newBuilder()
        .setMarkAgentUnreachable(
            MarkAgentUnreachable.newBuilder()
                .setId(id)
                .setAt(Timestamp.newBuilder().setSeconds(1000)))
        .build();
  }

  static Operation reachable(String id) {
    return Operation.newBuilder()
        .setMarkAgentReachable(MarkAgentReachable.newBuilder().setInfo(agent(id)))
        .build();
  }

  static Operation gone(String id) {
    return Operation.newBuilder()
        .setMarkAgentGone(
            MarkAgentGone.newBuilder().setId(id).setAt(Timestamp.newBuilder().setSeconds(2000)))
        .build();
  }

  static Operation registered(String id, long seconds) {
    return Operation.newBuilder()
        .setMarkAgentRegistered(
            MarkAgentRegistered.newBuilder()
                .setId(id)
                .setAt(Timestamp.newBuilder().setSeconds(seconds)))
        .build();
  }

  @Test
  void anAgentsFirstRegistrationIsRecordedOnceAndOutlivesUnreachableAndUpdates() {
    apply(admit("a1"));
    assertThat(show().getAgents(0).hasRegisteredAt()).isFalse();
    assertThat(apply(registered("a1", 500))).isTrue();
    assertThat(apply(registered("a1", 600))).as("the first one stands").isFalse();
    apply(
        Operation.newBuilder()
            .setUpdateAgent(UpdateAgent.newBuilder().setInfo(agent("a1").toBuilder().setPort(1)))
            .build());
    apply(unreachable("a1"));
    assertThat(show().getUnreachable(0).getRegisteredAt().getSeconds()).isEqualTo(500);
    apply(reachable("a1"));
    Agent back = show().getAgents(0);
    assertThat(back.getState()).isEqualTo(AgentState.ADMITTED);
    assertThat(back.getRegisteredAt().getSeconds()).isEqualTo(500);
    assertThat(back.hasSince()).isFalse();
  }

  @Test
  void recordingARegistrationNeedsAnAdmittedAgentAndATime() {
    assertThatThrownBy(() -> apply(registered("nobody", 1)))
        .isInstanceOf(OperationRefusedException.class)
        .hasMessage("mark_agent_registered.id: no agent nobody");
    apply(admit("a1"));
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setMarkAgentRegistered(MarkAgentRegistered.newBuilder().setId("a1"))
                        .build()))
        .isInstanceOf(OperationRefusedException.class)
        .hasMessageContaining("mark_agent_registered.at must be set");
    apply(gone("a1"));
    assertThatThrownBy(() -> apply(registered("a1", 1)))
        .isInstanceOf(OperationRefusedException.class)
        .hasMessage("mark_agent_registered.id: agent a1 is GONE, not admitted");
  }

  static MachineID host(String name) {
    return MachineID.newBuilder().setHostname(name).build();
  }

  static Window window(long start, long seconds, MachineID... machines) {
    return Window.newBuilder()
        .addAllMachineIds(List.of(machines))
        .setUnavailability(
            Unavailability.newBuilder()
                .setStart(Timestamp.newBuilder().setSeconds(start))
                .setDuration(Duration.newBuilder().setSeconds(seconds)))
        .build();
  }

  static Operation schedule(String name, Window... windows) {
    return Operation.newBuilder()
        .setUpdateSchedule(
            UpdateSchedule.newBuilder()
                .setSchedule(Schedule.newBuilder().setName(name).addAllWindows(List.of(windows))))
        .build();
  }

  static Operation start(MachineID... ids) {
    return Operation.newBuilder()
        .setStartMaintenance(StartMaintenance.newBuilder().addAllMachineIds(List.of(ids)))
        .build();
  }

  static Operation stop(MachineID... ids) {
    return Operation.newBuilder()
        .setStopMaintenance(StopMaintenance.newBuilder().addAllMachineIds(List.of(ids)))
        .build();
  }

  static Operation quota(String role, double guarantee, double limit) {
    return Operation.newBuilder()
        .setUpdateQuota(
            UpdateQuota.newBuilder()
                .setQuota(
                    Quota.newBuilder()
                        .setRole(role)
                        .putGuarantees("cpus", guarantee)
                        .putLimits("cpus", limit)))
        .build();
  }

  static Operation weights(Object... roleWeight) {
    UpdateWeights.Builder w = UpdateWeights.newBuilder();
    for (int i = 0; i < roleWeight.length; i += 2) {
      w.addWeights(
          Weight.newBuilder()
              .setRole((String) roleWeight[i])
              .setWeight(((Number) roleWeight[i + 1]).doubleValue()));
    }
    return Operation.newBuilder().setUpdateWeights(w).build();
  }

  // ---- master
  // -------------------------------------------------------------------------------------

  @Test
  void recordMasterReplacesTheLeadingMaster() {
    apply(
        Operation.newBuilder()
            .setRecordMaster(RecordMaster.newBuilder().setInfo(MasterInfo.newBuilder().setId("m1")))
            .build());
    apply(
        Operation.newBuilder()
            .setRecordMaster(RecordMaster.newBuilder().setInfo(MasterInfo.newBuilder().setId("m2")))
            .build());
    assertThat(show().getMaster().getId()).isEqualTo("m2");
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setRecordMaster(RecordMaster.getDefaultInstance())
                        .build()))
        .hasMessageContaining("record_master.info.id");
  }

  // ---- agents
  // -------------------------------------------------------------------------------------

  @Test
  void admitAddsAnAgentOnceAndNeverReusesItsId() {
    assertThat(apply(admit("a1"))).isTrue();
    assertThat(show().getAgentsList()).extracting(a -> a.getInfo().getId()).containsExactly("a1");

    assertThatThrownBy(() -> apply(admit("a1")))
        .isInstanceOf(OperationRefusedException.class)
        .hasMessageContaining("agent a1 is already known (ADMITTED)");
    apply(gone("a1"));
    assertThatThrownBy(() -> apply(admit("a1"))).hasMessageContaining("already known (GONE)");
  }

  @Test
  void admitRejectsMalformedAgentsNamingTheField() {
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setAdmitAgent(
                            AdmitAgent.newBuilder().setInfo(agent("a").toBuilder().setId("")))
                        .build()))
        .hasMessageContaining("admit_agent.info.id");
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setAdmitAgent(
                            AdmitAgent.newBuilder().setInfo(agent("a").toBuilder().setHostname("")))
                        .build()))
        .hasMessageContaining("admit_agent.info.hostname");
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setAdmitAgent(
                            AdmitAgent.newBuilder()
                                .setInfo(agent("a").toBuilder().putResources("cpus", -1)))
                        .build()))
        .hasMessageContaining("admit_agent.info.resources[cpus] must be a non-negative number");
    assertThat(show().getAgentsList()).isEmpty();
  }

  @Test
  void updateChangesAnAdmittedAgentAndIsANoOpWhenNothingChanged() {
    apply(admit("a1"));
    AgentInfo bigger = agent("a1").toBuilder().putResources("cpus", 8).build();
    assertThat(
            apply(
                Operation.newBuilder()
                    .setUpdateAgent(UpdateAgent.newBuilder().setInfo(bigger))
                    .build()))
        .isTrue();
    assertThat(
            apply(
                Operation.newBuilder()
                    .setUpdateAgent(UpdateAgent.newBuilder().setInfo(bigger))
                    .build()))
        .isFalse();
    assertThat(show().getAgents(0).getInfo().getResourcesMap()).containsEntry("cpus", 8.0);

    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setUpdateAgent(UpdateAgent.newBuilder().setInfo(agent("zz")))
                        .build()))
        .hasMessageContaining("update_agent.info.id: no agent zz");
  }

  @Test
  void unreachableAndBackAgain() {
    apply(admit("a1"));
    apply(unreachable("a1"));
    assertThat(show().getAgentsList()).isEmpty();
    Agent u = show().getUnreachable(0);
    assertThat(u.getState()).isEqualTo(AgentState.UNREACHABLE);
    assertThat(u.getSince().getSeconds()).isEqualTo(1000);
    assertThatThrownBy(() -> apply(unreachable("a1")))
        .hasMessageContaining("agent a1 is UNREACHABLE, not admitted");

    assertThat(apply(reachable("a1"))).isTrue();
    assertThat(show().getAgentsList()).extracting(a -> a.getInfo().getId()).containsExactly("a1");
    assertThat(show().getUnreachableList()).isEmpty();
    assertThat(apply(reachable("a1"))).as("already admitted: a no-op").isFalse();
  }

  @Test
  void anAgentPrunedLongAgoMayComeBackButAGoneOneNever() {
    assertThat(apply(reachable("forgotten"))).isTrue();
    assertThat(show().getAgentsList())
        .extracting(a -> a.getInfo().getId())
        .containsExactly("forgotten");

    apply(gone("forgotten"));
    assertThatThrownBy(() -> apply(reachable("forgotten")))
        .hasMessageContaining("was marked gone and cannot come back");
  }

  @Test
  void markGoneTakesAdmittedOrUnreachableAgentsOnce() {
    apply(admit("a1"));
    apply(admit("a2"));
    apply(unreachable("a2"));
    apply(gone("a1"));
    apply(gone("a2"));
    assertThat(show().getGoneList())
        .extracting(a -> a.getInfo().getId())
        .containsExactly("a1", "a2");
    assertThat(show().getGone(0).getSince().getSeconds()).isEqualTo(2000);
    assertThatThrownBy(() -> apply(gone("a1"))).hasMessageContaining("agent a1 is already gone");
    assertThatThrownBy(() -> apply(gone("nobody")))
        .hasMessageContaining("mark_agent_gone.id: no agent nobody");

    // Without a time the registry would record 1970: refused, naming the field.
    apply(admit("a3"));
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setMarkAgentGone(MarkAgentGone.newBuilder().setId("a3"))
                        .build()))
        .hasMessageContaining("mark_agent_gone.at must be set");
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setMarkAgentUnreachable(MarkAgentUnreachable.newBuilder().setId("a3"))
                        .build()))
        .hasMessageContaining("mark_agent_unreachable.at must be set");
    assertThat(show().getAgentsList()).extracting(a -> a.getInfo().getId()).containsExactly("a3");
  }

  @Test
  void pruneForgetsOnlyWhatIsStillUnreachableOrGone() {
    apply(admit("u"));
    apply(unreachable("u"));
    apply(admit("g"));
    apply(gone("g"));
    apply(admit("live"));
    boolean changed =
        apply(
            Operation.newBuilder()
                .setPruneAgents(
                    PruneAgents.newBuilder()
                        .addUnreachable("u")
                        .addUnreachable("live")
                        .addUnreachable("unknown")
                        .addGone("g"))
                .build());
    assertThat(changed).isTrue();
    assertThat(show().getUnreachableList()).isEmpty();
    assertThat(show().getGoneList()).isEmpty();
    assertThat(show().getAgentsList()).extracting(a -> a.getInfo().getId()).containsExactly("live");
    assertThat(
            apply(
                Operation.newBuilder()
                    .setPruneAgents(PruneAgents.newBuilder().addGone("g"))
                    .build()))
        .isFalse();
  }

  @Test
  void removeTakesOnlyAdmittedAgents() {
    apply(admit("a1"));
    assertThat(
            apply(
                Operation.newBuilder()
                    .setRemoveAgent(RemoveAgent.newBuilder().setId("a1"))
                    .build()))
        .isTrue();
    assertThat(show().getAgentsList()).isEmpty();
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setRemoveAgent(RemoveAgent.newBuilder().setId("a1"))
                        .build()))
        .hasMessageContaining("remove_agent.id: no agent a1");
  }

  // ---- quotas and weights
  // ---------------------------------------------------------------------------

  @Test
  void quotasAreValidatedStoredAndRemoved() {
    assertThat(apply(quota("eng/frontend", 2, 4))).isTrue();
    assertThat(apply(quota("eng/frontend", 2, 4))).isFalse();
    assertThat(show().getQuotas(0).getGuaranteesMap()).containsEntry("cpus", 2.0);

    assertThatThrownBy(() -> apply(quota("eng", 5, 4)))
        .hasMessageContaining("quota.guarantees[cpus] = 5.0 exceeds quota.limits[cpus] = 4.0");
    assertThatThrownBy(() -> apply(quota("eng", -1, 4)))
        .hasMessageContaining("quota.guarantees[cpus] must be a non-negative");
    assertThatThrownBy(() -> apply(quota("*", 1, 4)))
        .hasMessageContaining("quota.role: the default role '*'");
    assertThatThrownBy(() -> apply(quota("a//b", 1, 4))).hasMessageContaining("empty path segment");
    assertThatThrownBy(() -> apply(quota("-x", 1, 4)))
        .hasMessageContaining("must not start with '-'");
    assertThatThrownBy(() -> apply(quota("..", 1, 4)))
        .hasMessageContaining("'..' is not a valid role segment");
    assertThatThrownBy(() -> apply(quota("a b", 1, 4)))
        .hasMessageContaining("invalid character U+0020");

    apply(
        Operation.newBuilder()
            .setRemoveQuota(RemoveQuota.newBuilder().setRole("eng/frontend"))
            .build());
    assertThat(show().getQuotasList()).isEmpty();
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setRemoveQuota(RemoveQuota.newBuilder().setRole("eng/frontend"))
                        .build()))
        .hasMessageContaining("remove_quota.role: role 'eng/frontend' has no quota");
  }

  @Test
  void weightsMustBePositiveAndEachRoleOnce() {
    assertThat(apply(weights("eng", 2, "ops", 0.5))).isTrue();
    assertThat(apply(weights("eng", 2))).isFalse();
    assertThat(show().getWeightsList())
        .extracting(Weight::getRole, Weight::getWeight)
        .containsExactly(Tuple.tuple("eng", 2.0), Tuple.tuple("ops", 0.5));

    assertThatThrownBy(() -> apply(weights("eng", 0)))
        .hasMessageContaining("update_weights.weights[0].weight must be a positive number");
    assertThatThrownBy(() -> apply(weights("eng", 1, "eng", 3)))
        .hasMessageContaining("weights[1].role: role 'eng' appears twice");
    assertThatThrownBy(() -> apply(weights()))
        .hasMessageContaining("update_weights.weights must not be empty");
    assertThat(show().getWeightsList()).hasSize(2);

    assertThat(
            apply(
                Operation.newBuilder()
                    .setRemoveWeights(
                        RemoveWeights.newBuilder().addRoles("eng").addRoles("unknown"))
                    .build()))
        .isTrue();
    assertThat(show().getWeightsList()).extracting(Weight::getRole).containsExactly("ops");
    assertThat(
            apply(
                Operation.newBuilder()
                    .setRemoveWeights(RemoveWeights.newBuilder().addRoles("eng"))
                    .build()))
        .as("already at the default")
        .isFalse();
  }

  // ---- maintenance
  // ----------------------------------------------------------------------------------

  @Test
  void scheduledMachinesDrainThenGoDownThenComeBackUp() {
    apply(
        schedule(
            "rack-1", window(100, 3600, host("m1"), host("M2")), window(5000, 60, host("m3"))));
    Registry r = show();
    assertThat(r.getSchedulesList()).extracting(Schedule::getName).containsExactly("rack-1");
    assertThat(r.getMachinesList())
        .extracting(m -> m.getId().getHostname(), m -> m.getMode())
        .containsExactlyInAnyOrder(
            Tuple.tuple("m1", MachineMode.DRAINING),
            Tuple.tuple("M2", MachineMode.DRAINING),
            Tuple.tuple("m3", MachineMode.DRAINING));

    assertThat(apply(start(host("m1"), host("m2")))).as("hostnames compare without case").isTrue();
    assertThat(show().getMachinesList())
        .filteredOn(m -> m.getMode() == MachineMode.DOWN)
        .hasSize(2);

    assertThat(apply(stop(host("m1")))).isTrue();
    r = show();
    assertThat(r.getMachinesList())
        .extracting(m -> m.getId().getHostname())
        .containsExactlyInAnyOrder("M2", "m3");
    assertThat(r.getSchedules(0).getWindows(0).getMachineIdsList())
        .extracting(MachineID::getHostname)
        .containsExactly("M2");

    apply(stop(host("m2")));
    assertThat(show().getSchedules(0).getWindowsList()).as("the emptied window is gone").hasSize(1);
  }

  @Test
  void maintenanceRefusesWhatDoesNotApply() {
    assertThatThrownBy(() -> apply(start(host("m9"))))
        .hasMessageContaining(
            "start_maintenance.machine_ids[0]: machine m9 is not in any maintenance schedule");
    apply(schedule("s", window(100, 60, host("m1"))));
    assertThatThrownBy(() -> apply(stop(host("m1"))))
        .hasMessageContaining("stop_maintenance.machine_ids[0]: machine m1 is not DOWN");
    assertThatThrownBy(() -> apply(start()))
        .hasMessageContaining("start_maintenance.machine_ids must not be empty");
    assertThatThrownBy(() -> apply(start(host("m1"), host("m1"))))
        .hasMessageContaining("appears twice");
  }

  @Test
  void schedulesAreValidated() {
    assertThatThrownBy(() -> apply(schedule("s", window(100, 60))))
        .hasMessageContaining("update_schedule.schedule.windows[0].machine_ids must not be empty");
    assertThatThrownBy(() -> apply(schedule("s", window(100, 0, host("m1")))))
        .hasMessageContaining("windows[0].unavailability.duration must be positive");
    assertThatThrownBy(
            () -> apply(schedule("s", window(100, 60, host("m1")), window(200, 60, host("m1")))))
        .hasMessageContaining(
            "windows[1].machine_ids[0]: machine m1 appears more than once in the schedule");
    assertThatThrownBy(
            () ->
                apply(
                    schedule(
                        "s", window(100, 60, MachineID.newBuilder().setIp("300.1.1.1").build()))))
        .hasMessageContaining("machine_ids[0].ip '300.1.1.1' is not an IPv4 or IPv6 address");
    assertThatThrownBy(() -> apply(schedule("s", window(100, 60, MachineID.getDefaultInstance()))))
        .hasMessageContaining("a machine needs a hostname or an ip");
    assertThatThrownBy(() -> apply(schedule("s")))
        .hasMessageContaining("windows must not be empty");
    assertThat(show().getSchedulesList()).isEmpty();
    assertThat(show().getMachinesList()).isEmpty();
  }

  @Test
  void aMachineBelongsToOneScheduleAndADownMachineCannotBeDropped() {
    apply(schedule("a", window(100, 60, host("m1"), host("m2"))));
    assertThatThrownBy(() -> apply(schedule("b", window(100, 60, host("m1")))))
        .hasMessageContaining("machine m1 is already in schedule 'a'");

    apply(start(host("m1")));
    assertThatThrownBy(() -> apply(schedule("a", window(100, 60, host("m2")))))
        .hasMessageContaining("machine m1 is DOWN and cannot be left out of its schedule");
    assertThatThrownBy(
            () ->
                apply(
                    Operation.newBuilder()
                        .setRemoveSchedule(RemoveSchedule.newBuilder().setName("a"))
                        .build()))
        .hasMessageContaining("machine m1 of schedule 'a' is DOWN");

    // Rescheduling keeps a machine's mode and takes the new window.
    assertThat(apply(schedule("a", window(900, 120, host("m1"))))).isTrue();
    assertThat(show().getMachinesList())
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.getMode()).isEqualTo(MachineMode.DOWN);
              assertThat(m.getUnavailability().getStart().getSeconds()).isEqualTo(900);
            });
    assertThat(apply(schedule("a", window(900, 120, host("m1"))))).as("unchanged").isFalse();

    apply(stop(host("m1")));
    assertThat(show().getSchedulesList()).as("its last machine left").isEmpty();
    apply(schedule("b", window(100, 60, host("m1"))));
    apply(
        Operation.newBuilder().setRemoveSchedule(RemoveSchedule.newBuilder().setName("b")).build());
    assertThat(show().getMachinesList()).isEmpty();
    assertThat(show().getSchedulesList()).isEmpty();
  }

  @Test
  void anEmptyOperationIsRefused() {
    assertThatThrownBy(() -> apply(Operation.getDefaultInstance()))
        .hasMessageContaining("the operation is empty");
  }
}
