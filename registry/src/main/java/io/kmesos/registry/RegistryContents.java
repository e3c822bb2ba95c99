package io.kmesos.registry;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.kmesos.api.registry.v1.Agent;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.Machine;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.api.registry.v1.Quota;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.registry.v1.Schedule;
import io.kmesos.api.registry.v1.Weight;
import io.kmesos.replica.state.State;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * The registry in memory, entry by entry as it is stored ({@link Names}). Not thread-safe: the
 * registrar guards it.
 */
public final class RegistryContents implements Entries {
  private final TreeMap<String, Message> entries = new TreeMap<>();
  private long version;

  /** The entries' serialized size, kept as they change (Mesos's registrar/registry_size_bytes). */
  private long bytes;

  /** Decodes the State's variables; a variable that is not a registry entry is refused by name. */
  public static RegistryContents of(Collection<State.Variable> variables, long version) {
    RegistryContents c = new RegistryContents();
    for (State.Variable v : variables) {
      c.put(v.name(), decode(v));
    }
    c.version = version;
    return c;
  }

  /** The entries of a whole registry (as the baseline storage keeps it). */
  static RegistryContents of(Registry r) {
    RegistryContents c = new RegistryContents();
    if (r.hasMaster()) {
      c.put(Names.MASTER, r.getMaster());
    }
    for (List<Agent> agents : List.of(r.getAgentsList(), r.getUnreachableList(), r.getGoneList())) {
      agents.forEach(a -> c.put(Names.agent(a.getInfo().getId()), a));
    }
    r.getMachinesList().forEach(m -> c.put(Names.machine(m.getId()), m));
    r.getSchedulesList().forEach(s -> c.put(Names.schedule(s.getName()), s));
    r.getQuotasList().forEach(q -> c.put(Names.quota(q.getRole()), q));
    r.getWeightsList().forEach(w -> c.put(Names.weight(w.getRole()), w));
    r.getFrameworksList().forEach(f -> c.put(Names.framework(f.getInfo().getId()), f));
    c.version = r.getVersion();
    return c;
  }

  RegistryContents copy() {
    RegistryContents c = new RegistryContents();
    c.entries.putAll(entries);
    c.version = version;
    c.bytes = bytes;
    return c;
  }

  @Override
  public Message get(String name) {
    return entries.get(name);
  }

  @Override
  public NavigableMap<String, Message> withPrefix(String prefix) {
    return Collections.unmodifiableNavigableMap(
        entries.subMap(prefix, true, Names.after(prefix), false));
  }

  void apply(Transaction t, long newVersion) {
    t.deletes().forEach(this::remove);
    t.puts().forEach(this::put);
    version = newVersion;
  }

  private void put(String name, Message m) {
    Message old = entries.put(name, m);
    bytes += m.getSerializedSize() - (old == null ? 0 : old.getSerializedSize());
  }

  private void remove(String name) {
    Message old = entries.remove(name);
    bytes -= old == null ? 0 : old.getSerializedSize();
  }

  public long version() {
    return version;
  }

  public int size() {
    return entries.size();
  }

  /**
   * The serialized size of every entry: the registry's size, without the few bytes framing each.
   */
  public long bytes() {
    return bytes;
  }

  /** The whole registry as one message (for tools and tests: O(entries)). */
  public Registry toProto() {
    Registry.Builder r = Registry.newBuilder().setVersion(version);
    for (Message m : entries.values()) {
      if (m instanceof MasterInfo master) {
        r.setMaster(master);
      } else if (m instanceof Agent a) {
        switch (a.getState()) {
          case UNREACHABLE -> r.addUnreachable(a);
          case GONE -> r.addGone(a);
          default -> r.addAgents(a);
        }
      } else if (m instanceof Machine machine) {
        r.addMachines(machine);
      } else if (m instanceof Schedule s) {
        r.addSchedules(s);
      } else if (m instanceof Quota q) {
        r.addQuotas(q);
      } else if (m instanceof Weight w) {
        r.addWeights(w);
      } else if (m instanceof Framework f) {
        r.addFrameworks(f);
      }
    }
    return r.build();
  }

  static Message decode(State.Variable v) {
    String name = v.name();
    Class<? extends Message> type =
        name.equals(Names.MASTER)
            ? MasterInfo.class
            : name.startsWith(Names.AGENTS)
                ? Agent.class
                : name.startsWith(Names.MACHINES)
                    ? Machine.class
                    : name.startsWith(Names.SCHEDULES)
                        ? Schedule.class
                        : name.startsWith(Names.QUOTAS)
                            ? Quota.class
                            : name.startsWith(Names.WEIGHTS)
                                ? Weight.class
                                : name.startsWith(Names.FRAMEWORKS) ? Framework.class : null;
    if (type == null || !v.value().is(type)) {
      throw new IllegalStateException(
          "variable '"
              + name
              + "' ("
              + v.value().getTypeUrl()
              + ") is not a registry entry; this log holds something else");
    }
    try {
      return v.value().unpack(type);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(
          "variable '" + name + "' cannot be decoded: " + e.getMessage(), e);
    }
  }
}
