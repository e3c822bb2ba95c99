package io.kmesos.registry;

import static io.kmesos.registry.Validation.refused;

import com.google.protobuf.Message;
import io.kmesos.api.registry.v1.AdmitAgent;
import io.kmesos.api.registry.v1.Agent;
import io.kmesos.api.registry.v1.AgentInfo;
import io.kmesos.api.registry.v1.AgentState;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.Machine;
import io.kmesos.api.registry.v1.MachineID;
import io.kmesos.api.registry.v1.MachineMode;
import io.kmesos.api.registry.v1.MarkAgentGone;
import io.kmesos.api.registry.v1.MarkAgentReachable;
import io.kmesos.api.registry.v1.MarkAgentUnreachable;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.PruneAgents;
import io.kmesos.api.registry.v1.Quota;
import io.kmesos.api.registry.v1.Schedule;
import io.kmesos.api.registry.v1.UpdateWeights;
import io.kmesos.api.registry.v1.Weight;
import io.kmesos.api.registry.v1.Window;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The registry operations, with the semantics of Mesos {@code registry_operations.cpp} and {@code
 * maintenance.cpp}. Each one validates its input, checks that it applies to the registry as it is,
 * and then writes the entries it changes into a transaction.
 *
 * <p>Guarantees: an operation either returns (true: it changed something; false: the registry
 * already was as asked, a no-op) having written exactly its changes, or throws {@link
 * OperationRefusedException} with a message naming what is wrong, having written nothing that the
 * caller keeps (the registrar gives each operation a transaction of its own).
 */
final class Operations {
  private Operations() {}

  static boolean apply(Operation op, Transaction t) {
    return switch (op.getKindCase()) {
      case RECORD_MASTER -> {
        if (op.getRecordMaster().getInfo().getId().isBlank()) {
          throw refused("record_master.info.id must not be empty");
        }
        t.put(Names.MASTER, op.getRecordMaster().getInfo());
        yield true;
      }
      case ADMIT_AGENT -> admit(op.getAdmitAgent(), t);
      case UPDATE_AGENT -> update(op.getUpdateAgent().getInfo(), t);
      case MARK_AGENT_UNREACHABLE -> markUnreachable(op.getMarkAgentUnreachable(), t);
      case MARK_AGENT_REACHABLE -> markReachable(op.getMarkAgentReachable(), t);
      case PRUNE_AGENTS -> prune(op.getPruneAgents(), t);
      case MARK_AGENT_GONE -> markGone(op.getMarkAgentGone(), t);
      case MARK_AGENT_REGISTERED -> {
        Agent a = admitted("mark_agent_registered.id", op.getMarkAgentRegistered().getId(), t);
        if (!op.getMarkAgentRegistered().hasAt()) {
          throw refused("mark_agent_registered.at must be set (when the agent first registered)");
        }
        if (a.hasRegisteredAt()) {
          yield false;
        }
        t.put(
            Names.agent(a.getInfo().getId()),
            a.toBuilder().setRegisteredAt(op.getMarkAgentRegistered().getAt()).build());
        yield true;
      }
      case REMOVE_AGENT -> {
        Agent a = admitted("remove_agent.id", op.getRemoveAgent().getId(), t);
        t.delete(Names.agent(a.getInfo().getId()));
        yield true;
      }
      case UPDATE_QUOTA -> {
        Quota q = op.getUpdateQuota().getQuota();
        Validation.quota(q);
        yield putIfChanged(Names.quota(q.getRole()), q, t);
      }
      case REMOVE_QUOTA -> {
        String role = op.getRemoveQuota().getRole();
        if (t.get(Names.quota(role)) == null) {
          throw refused("remove_quota.role: role '" + role + "' has no quota");
        }
        t.delete(Names.quota(role));
        yield true;
      }
      case UPDATE_WEIGHTS -> updateWeights(op.getUpdateWeights(), t);
      case REMOVE_WEIGHTS -> {
        boolean changed = false;
        for (String role : op.getRemoveWeights().getRolesList()) {
          if (t.get(Names.weight(role)) != null) {
            t.delete(Names.weight(role));
            changed = true;
          }
        }
        yield changed;
      }
      case UPDATE_SCHEDULE -> updateSchedule(op.getUpdateSchedule().getSchedule(), t);
      case REMOVE_SCHEDULE -> removeSchedule(op.getRemoveSchedule().getName(), t);
      case START_MAINTENANCE -> startMaintenance(op.getStartMaintenance().getMachineIdsList(), t);
      case STOP_MAINTENANCE -> stopMaintenance(op.getStopMaintenance().getMachineIdsList(), t);
      case ADD_FRAMEWORK -> {
        Framework f = op.getAddFramework().getFramework();
        Validation.framework("add_framework.framework", f);
        String id = f.getInfo().getId();
        if (t.get(Names.framework(id)) != null) {
          throw refused(
              "add_framework.framework.info.id: framework "
                  + id
                  + " is already registered; a framework ID is never added twice");
        }
        t.put(Names.framework(id), f);
        yield true;
      }
      case UPDATE_FRAMEWORK -> {
        Framework f = op.getUpdateFramework().getFramework();
        Validation.framework("update_framework.framework", f);
        registered("update_framework.framework.info.id", f.getInfo().getId(), t);
        yield putIfChanged(Names.framework(f.getInfo().getId()), f, t);
      }
      case REMOVE_FRAMEWORK -> {
        String id = op.getRemoveFramework().getId();
        registered("remove_framework.id", id, t);
        t.delete(Names.framework(id));
        yield true;
      }
      case KIND_NOT_SET -> throw refused("the operation is empty");
    };
  }

  // ---- agents -----------------------------------------------------------------------------------

  private static boolean admit(AdmitAgent op, Transaction t) {
    AgentInfo info = op.getInfo();
    Validation.agent("admit_agent.info", info);
    Agent known = t.get(Names.agent(info.getId()), Agent.class);
    if (known != null) {
      throw refused(
          "admit_agent.info.id: agent "
              + info.getId()
              + " is already known ("
              + known.getState()
              + "); an agent ID is never admitted twice");
    }
    t.put(
        Names.agent(info.getId()),
        Agent.newBuilder().setInfo(info).setState(AgentState.ADMITTED).build());
    return true;
  }

  private static boolean update(AgentInfo info, Transaction t) {
    Validation.agent("update_agent.info", info);
    Agent a = admitted("update_agent.info.id", info.getId(), t);
    return putIfChanged(Names.agent(info.getId()), a.toBuilder().setInfo(info).build(), t);
  }

  private static boolean markUnreachable(MarkAgentUnreachable op, Transaction t) {
    Agent a = admitted("mark_agent_unreachable.id", op.getId(), t);
    if (!op.hasAt()) {
      throw refused("mark_agent_unreachable.at must be set (when the agent was found unreachable)");
    }
    t.put(
        Names.agent(op.getId()),
        a.toBuilder().setState(AgentState.UNREACHABLE).setSince(op.getAt()).build());
    return true;
  }

  private static boolean markReachable(MarkAgentReachable op, Transaction t) {
    AgentInfo info = op.getInfo();
    Validation.agent("mark_agent_reachable.info", info);
    Agent a = t.get(Names.agent(info.getId()), Agent.class);
    if (a != null && a.getState() == AgentState.ADMITTED) {
      return false; // re-registering after a master failover: nothing to do
    }
    if (a != null && a.getState() == AgentState.GONE) {
      throw refused(
          "mark_agent_reachable.info.id: agent "
              + info.getId()
              + " was marked gone and cannot come back");
    }
    // Unreachable, or unknown because it was pruned long ago: admitted again either way (as in
    // Mesos), keeping when it first registered.
    t.put(
        Names.agent(info.getId()),
        (a == null ? Agent.newBuilder() : a.toBuilder().clearSince())
            .setInfo(info)
            .setState(AgentState.ADMITTED)
            .build());
    return true;
  }

  private static boolean prune(PruneAgents op, Transaction t) {
    boolean changed = false;
    changed |= pruneIn(op.getUnreachableList(), AgentState.UNREACHABLE, t);
    changed |= pruneIn(op.getGoneList(), AgentState.GONE, t);
    return changed;
  }

  private static boolean pruneIn(List<String> ids, AgentState state, Transaction t) {
    boolean changed = false;
    for (String id : ids) {
      Agent a = t.get(Names.agent(id), Agent.class);
      if (a != null && a.getState() == state) { // unknown or moved on since: not ours to forget
        t.delete(Names.agent(id));
        changed = true;
      }
    }
    return changed;
  }

  private static boolean markGone(MarkAgentGone op, Transaction t) {
    Agent a = t.get(Names.agent(op.getId()), Agent.class);
    if (a == null) {
      throw refused("mark_agent_gone.id: no agent " + op.getId());
    }
    if (a.getState() == AgentState.GONE) {
      throw refused("mark_agent_gone.id: agent " + op.getId() + " is already gone");
    }
    if (!op.hasAt()) {
      throw refused("mark_agent_gone.at must be set (when the agent was declared gone)");
    }
    t.put(
        Names.agent(op.getId()),
        a.toBuilder().setState(AgentState.GONE).setSince(op.getAt()).build());
    return true;
  }

  private static Agent admitted(String field, String id, Transaction t) {
    Agent a = t.get(Names.agent(id), Agent.class);
    if (a == null) {
      throw refused(field + ": no agent " + id);
    }
    if (a.getState() != AgentState.ADMITTED) {
      throw refused(field + ": agent " + id + " is " + a.getState() + ", not admitted");
    }
    return a;
  }

  // ---- frameworks ------------------------------------------------------------------------------

  private static Framework registered(String field, String id, Transaction t) {
    Framework f = id.isEmpty() ? null : t.get(Names.framework(id), Framework.class);
    if (f == null) {
      throw refused(field + ": no framework '" + id + "' is registered");
    }
    return f;
  }

  // ---- weights ----------------------------------------------------------------------------------

  private static boolean updateWeights(UpdateWeights op, Transaction t) {
    if (op.getWeightsCount() == 0) {
      throw refused("update_weights.weights must not be empty");
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < op.getWeightsCount(); i++) {
      Weight w = op.getWeights(i);
      Validation.role("update_weights.weights[" + i + "].role", w.getRole(), false);
      if (!(w.getWeight() > 0) || !Double.isFinite(w.getWeight())) {
        throw refused(
            "update_weights.weights["
                + i
                + "].weight must be a positive number, not "
                + w.getWeight());
      }
      if (!seen.add(w.getRole())) {
        throw refused(
            "update_weights.weights[" + i + "].role: role '" + w.getRole() + "' appears twice");
      }
    }
    boolean changed = false;
    for (Weight w : op.getWeightsList()) {
      changed |= putIfChanged(Names.weight(w.getRole()), w, t);
    }
    return changed;
  }

  // ---- maintenance ------------------------------------------------------------------------------

  /**
   * Replaces the schedule of that name. Machines new to it start DRAINING with their window's
   * unavailability; machines it keeps get the new unavailability (and keep their mode); machines it
   * drops go back UP (their entry is deleted).
   */
  private static boolean updateSchedule(Schedule s, Transaction t) {
    if (s.getName().isBlank()) {
      throw refused("update_schedule.schedule.name must not be empty");
    }
    if (s.getWindowsCount() == 0) {
      throw refused(
          "update_schedule.schedule.windows must not be empty (remove the schedule instead)");
    }
    Map<String, Window> windowOf = new HashMap<>();
    Map<String, MachineID> ids = new HashMap<>();
    for (int w = 0; w < s.getWindowsCount(); w++) {
      Window window = s.getWindows(w);
      String field = "update_schedule.schedule.windows[" + w + "]";
      if (window.getMachineIdsCount() == 0) {
        throw refused(field + ".machine_ids must not be empty");
      }
      Validation.unavailability(field + ".unavailability", window.getUnavailability());
      for (int m = 0; m < window.getMachineIdsCount(); m++) {
        MachineID id = window.getMachineIds(m);
        Validation.machine(field + ".machine_ids[" + m + "]", id);
        String name = Names.machine(id);
        if (windowOf.put(name, window) != null) {
          throw refused(
              field
                  + ".machine_ids["
                  + m
                  + "]: machine "
                  + describe(id)
                  + " appears more than once in the schedule");
        }
        ids.put(name, id);
        Machine existing = t.get(name, Machine.class);
        if (existing != null && !existing.getSchedule().equals(s.getName())) {
          throw refused(
              field
                  + ".machine_ids["
                  + m
                  + "]: machine "
                  + describe(id)
                  + " is already in schedule '"
                  + existing.getSchedule()
                  + "'");
        }
      }
    }
    for (Map.Entry<String, Message> e : machinesOf(s.getName(), t).entrySet()) {
      Machine m = (Machine) e.getValue();
      if (!windowOf.containsKey(e.getKey()) && m.getMode() == MachineMode.DOWN) {
        throw refused(
            "update_schedule.schedule: machine "
                + describe(m.getId())
                + " is DOWN and cannot be left out of its schedule (stop its maintenance first)");
      }
    }
    boolean changed = false;
    for (Map.Entry<String, Message> e : machinesOf(s.getName(), t).entrySet()) {
      if (!windowOf.containsKey(e.getKey())) {
        t.delete(e.getKey());
        changed = true;
      }
    }
    for (Map.Entry<String, Window> e : windowOf.entrySet()) {
      Machine existing = t.get(e.getKey(), Machine.class);
      Machine next =
          (existing != null
                  ? existing.toBuilder()
                  : Machine.newBuilder()
                      .setId(ids.get(e.getKey()))
                      .setMode(MachineMode.DRAINING)
                      .setSchedule(s.getName()))
              .setUnavailability(e.getValue().getUnavailability())
              .build();
      changed |= putIfChanged(e.getKey(), next, t);
    }
    changed |= putIfChanged(Names.schedule(s.getName()), s, t);
    return changed;
  }

  private static boolean removeSchedule(String name, Transaction t) {
    if (t.get(Names.schedule(name)) == null) {
      throw refused("remove_schedule.name: no schedule '" + name + "'");
    }
    Map<String, Message> machines = machinesOf(name, t);
    for (Message m : machines.values()) {
      Machine machine = (Machine) m;
      if (machine.getMode() == MachineMode.DOWN) {
        throw refused(
            "remove_schedule.name: machine "
                + describe(machine.getId())
                + " of schedule '"
                + name
                + "' is DOWN (stop its maintenance first)");
      }
    }
    machines.keySet().forEach(t::delete);
    t.delete(Names.schedule(name));
    return true;
  }

  private static boolean startMaintenance(List<MachineID> ids, Transaction t) {
    List<String> names = machineNames("start_maintenance", ids);
    boolean changed = false;
    for (int i = 0; i < ids.size(); i++) {
      Machine m = t.get(names.get(i), Machine.class);
      if (m == null) {
        throw refused(
            "start_maintenance.machine_ids["
                + i
                + "]: machine "
                + describe(ids.get(i))
                + " is not in any maintenance schedule");
      }
      changed |= putIfChanged(names.get(i), m.toBuilder().setMode(MachineMode.DOWN).build(), t);
    }
    return changed;
  }

  /** DOWN machines come back UP: their entry is deleted and they leave their schedule's windows. */
  private static boolean stopMaintenance(List<MachineID> ids, Transaction t) {
    List<String> names = machineNames("stop_maintenance", ids);
    for (int i = 0; i < ids.size(); i++) {
      Machine m = t.get(names.get(i), Machine.class);
      if (m == null || m.getMode() != MachineMode.DOWN) {
        throw refused(
            "stop_maintenance.machine_ids["
                + i
                + "]: machine "
                + describe(ids.get(i))
                + " is not DOWN");
      }
    }
    for (String name : names) {
      Machine m = t.get(name, Machine.class);
      t.delete(name);
      Schedule s = t.get(Names.schedule(m.getSchedule()), Schedule.class);
      if (s == null) {
        continue;
      }
      Schedule.Builder left = s.toBuilder().clearWindows();
      for (Window w : s.getWindowsList()) {
        Window.Builder kept = w.toBuilder().clearMachineIds();
        for (MachineID id : w.getMachineIdsList()) {
          if (!Names.machine(id).equals(name)) {
            kept.addMachineIds(id);
          }
        }
        if (kept.getMachineIdsCount() > 0) {
          left.addWindows(kept);
        }
      }
      if (left.getWindowsCount() == 0) {
        t.delete(Names.schedule(s.getName()));
      } else {
        t.put(Names.schedule(s.getName()), left.build());
      }
    }
    return true;
  }

  private static List<String> machineNames(String op, List<MachineID> ids) {
    if (ids.isEmpty()) {
      throw refused(op + ".machine_ids must not be empty");
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < ids.size(); i++) {
      Validation.machine(op + ".machine_ids[" + i + "]", ids.get(i));
      if (!seen.add(Names.machine(ids.get(i)))) {
        throw refused(
            op + ".machine_ids[" + i + "]: machine " + describe(ids.get(i)) + " appears twice");
      }
    }
    return ids.stream().map(Names::machine).toList();
  }

  private static Map<String, Message> machinesOf(String schedule, Transaction t) {
    Map<String, Message> out = new TreeMap<>();
    for (Map.Entry<String, Message> e : t.withPrefix(Names.MACHINES).entrySet()) {
      if (((Machine) e.getValue()).getSchedule().equals(schedule)) {
        out.put(e.getKey(), e.getValue());
      }
    }
    return out;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private static boolean putIfChanged(String name, Message value, Transaction t) {
    if (value.equals(t.get(name))) {
      return false;
    }
    t.put(name, value);
    return true;
  }

  static String describe(MachineID id) {
    return id.getHostname().isEmpty()
        ? id.getIp()
        : id.getIp().isEmpty() ? id.getHostname() : id.getHostname() + " (" + id.getIp() + ")";
  }
}
