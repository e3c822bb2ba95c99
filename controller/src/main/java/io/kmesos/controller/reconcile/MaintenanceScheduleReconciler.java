package io.kmesos.controller.reconcile;

import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.kmesos.api.registry.v1.Machine;
import io.kmesos.api.registry.v1.MachineID;
import io.kmesos.api.registry.v1.MachineMode;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.RemoveSchedule;
import io.kmesos.api.registry.v1.Schedule;
import io.kmesos.api.registry.v1.StartMaintenance;
import io.kmesos.api.registry.v1.StopMaintenance;
import io.kmesos.api.registry.v1.Unavailability;
import io.kmesos.api.registry.v1.UpdateSchedule;
import io.kmesos.api.registry.v1.Window;
import io.kmesos.controller.Master;
import io.kmesos.crds.v1alpha1.MachineId;
import io.kmesos.crds.v1alpha1.MaintenanceSchedule;
import io.kmesos.crds.v1alpha1.MaintenanceScheduleStatus;
import io.kmesos.crds.v1alpha1.MaintenanceWindow;
import io.kmesos.registry.Names;
import io.kmesos.registry.OperationRefusedException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A MaintenanceSchedule resource is the schedule of that name in the registry (Mesos maintenance
 * primitives): its machines are DRAINING; those listed in {@code spec.down} are taken DOWN (start
 * maintenance), and a machine taken out of {@code spec.down} comes back UP (stop maintenance) and,
 * if the spec still schedules it, DRAINING again. Deleting the resource brings its machines up and
 * removes the schedule.
 */
@ControllerConfiguration(name = "maintenanceschedule")
public final class MaintenanceScheduleReconciler
    extends RegistryReconciler<MaintenanceSchedule, MaintenanceScheduleStatus> {
  public MaintenanceScheduleReconciler(Master master) {
    super(master, MaintenanceScheduleStatus.class);
  }

  static MachineID machine(MachineId m) {
    return MachineID.newBuilder()
        .setHostname(m.getHostname() == null ? "" : m.getHostname())
        .setIp(m.getIp() == null ? "" : m.getIp())
        .build();
  }

  static Schedule schedule(MaintenanceSchedule ms) {
    Schedule.Builder s = Schedule.newBuilder().setName(ms.getMetadata().getName());
    for (MaintenanceWindow w : ms.getSpec().getWindows()) {
      Window.Builder window =
          s.addWindowsBuilder()
              .setUnavailability(
                  Unavailability.newBuilder()
                      .setStart(
                          Timestamps.fromMillis(
                              OffsetDateTime.parse(w.getStart()).toInstant().toEpochMilli()))
                      .setDuration(Durations.fromSeconds(w.getDurationSeconds())));
      w.getMachines().forEach(m -> window.addMachineIds(machine(m)));
    }
    return s.build();
  }

  @Override
  public UpdateControl<MaintenanceSchedule> reconcile(
      MaintenanceSchedule ms, Context<MaintenanceSchedule> context) throws Exception {
    MaintenanceScheduleStatus status = newStatus(ms);
    String name = ms.getMetadata().getName();
    Set<String> down = new HashSet<>();
    List<MachineID> toDown = new ArrayList<>();
    List<Integer> toDownIndexes = new ArrayList<>(); // where each of toDown is in spec.down
    for (MachineId m : ms.getSpec().getDown()) {
      down.add(Names.machine(machine(m)));
    }
    List<MachineID> toUp = new ArrayList<>();
    for (Machine m : machinesOf(name)) {
      if (m.getMode() == MachineMode.DOWN && !down.contains(Names.machine(m.getId()))) {
        toUp.add(m.getId());
      }
    }
    boolean changed = false;
    String refusal = null;
    try {
      if (!toUp.isEmpty()
          && apply(
              Operation.newBuilder()
                  .setStopMaintenance(StopMaintenance.newBuilder().addAllMachineIds(toUp))
                  .build())) {
        changed = true;
        normalEvent(
            context, ms, "MachinesUp", "StopMaintenance", "machines back UP: " + names(toUp));
      }
      changed |=
          apply(
              Operation.newBuilder()
                  .setUpdateSchedule(UpdateSchedule.newBuilder().setSchedule(schedule(ms)))
                  .build());
      for (int i = 0; i < ms.getSpec().getDown().size(); i++) {
        MachineID m = machine(ms.getSpec().getDown().get(i));
        Machine held = registrar().entry(Names.machine(m), Machine.class);
        if (held == null || held.getMode() != MachineMode.DOWN) {
          toDown.add(m);
          toDownIndexes.add(i);
        }
      }
      if (!toDown.isEmpty()
          && apply(
              Operation.newBuilder()
                  .setStartMaintenance(StartMaintenance.newBuilder().addAllMachineIds(toDown))
                  .build())) {
        changed = true;
        normalEvent(
            context,
            ms,
            "MachinesDown",
            "StartMaintenance",
            "machines taken DOWN: " + names(toDown));
      }
    } catch (OperationRefusedException e) {
      refusal = RefusalPaths.schedule(toDownIndexes).translate(e.getMessage());
    }
    List<MaintenanceScheduleStatus.MachineStatus> machines = new ArrayList<>();
    for (Machine m : machinesOf(name)) {
      machines.add(
          new MaintenanceScheduleStatus.MachineStatus(
              m.getId().getHostname().isEmpty() ? null : m.getId().getHostname(),
              m.getId().getIp().isEmpty() ? null : m.getId().getIp(),
              m.getMode() == MachineMode.DOWN ? "Down" : "Draining"));
    }
    status.setMachines(machines);
    if (refusal != null) {
      refused(ms, status, "Refused", refusal);
    } else {
      inRegistry(
          ms,
          status,
          changed,
          "schedule "
              + name
              + " is in the registry: "
              + machines.size()
              + " machines, "
              + machines.stream().filter(m -> m.getMode().equals("Down")).count()
              + " down");
    }
    return finish(ms, status);
  }

  /** host (ip), ... as a user wrote them. */
  private static String names(List<MachineID> machines) {
    return String.join(
        ", ",
        machines.stream()
            .map(
                m ->
                    m.getHostname().isEmpty()
                        ? m.getIp()
                        : m.getIp().isEmpty()
                            ? m.getHostname()
                            : m.getHostname() + " (" + m.getIp() + ")")
            .toList());
  }

  private List<Machine> machinesOf(String schedule) throws Exception {
    List<Machine> out = new ArrayList<>();
    for (var m : registrar().entries(Names.MACHINES).values()) {
      if (((Machine) m).getSchedule().equals(schedule)) {
        out.add((Machine) m);
      }
    }
    return out;
  }

  @Override
  public DeleteControl cleanup(MaintenanceSchedule ms, Context<MaintenanceSchedule> context)
      throws Exception {
    String name = ms.getMetadata().getName();
    List<MachineID> down =
        machinesOf(name).stream()
            .filter(m -> m.getMode() == MachineMode.DOWN)
            .map(Machine::getId)
            .toList();
    if (!down.isEmpty()) {
      applyOrRefusal(
          Operation.newBuilder()
              .setStopMaintenance(StopMaintenance.newBuilder().addAllMachineIds(down))
              .build());
    }
    if (registrar().entry(Names.schedule(name), Schedule.class) != null) {
      applyOrRefusal(
          Operation.newBuilder()
              .setRemoveSchedule(RemoveSchedule.newBuilder().setName(name))
              .build());
    }
    return DeleteControl.defaultDelete();
  }
}
