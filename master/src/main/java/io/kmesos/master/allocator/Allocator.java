package io.kmesos.master.allocator;

import io.kmesos.api.resources.Resources;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The master's allocator: decides which framework is offered which agent's free resources, in which
 * role (Mesos's hierarchical allocator, src/master/allocator/mesos/hierarchical.cpp, without quota,
 * reservations and maintenance yet). A pure state machine: the master calls it as agents,
 * frameworks and offers change, and calls {@link #allocate} on its allocation interval; time only
 * comes in as the {@code now} of a call.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Nothing is offered twice: an agent's resources are available, offered or allocated, and
 *       what is offered or allocated never exceeds the agent's total. An offer stays charged to its
 *       framework and role (in the books and in the DRF shares) until the master gives it back with
 *       {@link #recover} or {@link #decline}; resources a task uses stay charged until the task
 *       ends and the master recovers them.
 *   <li>{@link #allocate} walks the agents, and on each agent the roles in weighted hierarchical
 *       DRF order ({@link DrfSorter}, shares as of that moment), and within a role its frameworks
 *       in DRF order (a second sorter per role, as Mesos does). The first framework not filtered
 *       gets everything available on the agent, as in Mesos, and the shares are re-sorted before
 *       the next agent; so over a run the roles' allocations follow their weights.
 *   <li>A suppressed role of a framework gets no offers until it is revived. A declined offer's
 *       resources are not offered again to that framework, in that role, on that agent, until the
 *       refusal expires ({@code now >= decline time + refuse}), unless more than was declined is
 *       available ({@code declined.contains(offer)} is Mesos's rule) or the framework revives.
 *   <li>Deterministic: the same calls give the same offers in the same order. Agents are walked in
 *       id order (Mesos shuffles them at random; a seeded shuffle could go into {@link #allocate}
 *       if always filling the low ids first becomes a problem), every map is sorted, and there are
 *       no threads, clocks or I/O.
 * </ul>
 *
 * <p>Mesos's refusal semantics are kept: a negative refusal means the default (5 s), more than a
 * year means a year, and zero installs no filter at all. (Mesos also stretches a refusal to at
 * least one allocation interval, so that it outlives the next allocation; the interval is the
 * caller's, which can pass the longer of the two.) Recovering for a framework or agent that is gone
 * is ignored (the master may race with their removal); recovering more than a framework holds is a
 * bug and refused.
 *
 * <p>Left open, with seams in {@link #allocate}: quota (Mesos's first stage, which serves roles
 * below their guarantees before the fair-share stage, and the headroom and limits that shrink an
 * offer: {@code offerable}) and maintenance (agents in an unavailability window, inverse offers:
 * {@code agentOfferable}).
 */
public final class Allocator {
  /** Mesos's {@code Filters.refuse_seconds} default. */
  public static final Duration DEFAULT_REFUSE = Duration.ofSeconds(5);

  /** Mesos caps a refusal at a year. */
  public static final Duration MAX_REFUSE = Duration.ofDays(365);

  /** Mesos's default role, of frameworks that name none. */
  public static final String DEFAULT_ROLE = "*";

  /**
   * Role names as kmesos's CRDs accept them (io.kmesos.crds.v1alpha1.KmesosApi), and {@link
   * #DEFAULT_ROLE}.
   */
  private static final Pattern ROLE =
      Pattern.compile("^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$");

  private static final int ROLE_MAX_LENGTH = 255;

  /** Resources offered to one framework, in one role, from one agent. */
  public record Offer(String frameworkId, String agentId, String role, Resources resources) {}

  /**
   * @param minAllocatable an agent's free resources are offered only if they contain at least one
   *     of these (Mesos's {@code --min_allocatable_resources}, by default {@code cpus:0.01} or
   *     {@code mem:32}); empty: anything non-empty is offered
   * @param fairnessExcludedResourceNames resources left out of DRF shares (Mesos's {@code
   *     --fair_sharing_excluded_resource_names})
   */
  public record Config(List<Resources> minAllocatable, Set<String> fairnessExcludedResourceNames) {
    public Config {
      minAllocatable = List.copyOf(minAllocatable);
      fairnessExcludedResourceNames = Set.copyOf(fairnessExcludedResourceNames);
      for (Resources r : minAllocatable) {
        if (r.isEmpty()) {
          throw new IllegalArgumentException("minAllocatable holds an empty entry");
        }
      }
    }

    public static Config defaults() {
      return new Config(List.of(Resources.parse("cpus:0.01"), Resources.parse("mem:32")), Set.of());
    }
  }

  private static final class Agent {
    final String id;
    final String hostname;
    final Resources total;
    Resources available;
    // Inactive: disconnected (Mesos's deactivateSlave); what is used on it stays charged.
    boolean active = true;

    Agent(String id, String hostname, Resources total) {
      this.id = id;
      this.hostname = hostname;
      this.total = total;
      this.available = total;
    }
  }

  private record Filter(Resources refused, Instant expires) {}

  private static final class Framework {
    final String id;
    final SortedSet<String> roles;
    final SortedSet<String> suppressed;
    // Inactive: disconnected (Mesos's deactivateFramework); keeps what it holds, gets no offers.
    boolean active = true;
    // role -> agent -> offered or allocated
    final Map<String, TreeMap<String, Resources>> allocations = new TreeMap<>();
    // role -> agent -> refusals
    final Map<String, TreeMap<String, List<Filter>>> filters = new TreeMap<>();

    Framework(String id, Set<String> roles, Set<String> suppressed) {
      this.id = id;
      this.roles = Collections.unmodifiableSortedSet(new TreeSet<>(roles));
      this.suppressed = new TreeSet<>(suppressed);
    }
  }

  private final Config config;
  private final TreeMap<String, Agent> agents = new TreeMap<>();
  private final TreeMap<String, Framework> frameworks = new TreeMap<>();
  private final DrfSorter roleSorter;
  // One per role that has a framework; a role is in roleSorter exactly when it has one here.
  private final TreeMap<String, DrfSorter> frameworkSorters = new TreeMap<>();
  private Resources total = Resources.EMPTY;
  // No refusal expires before this (a lower bound: refusals dropped otherwise are not accounted),
  // so that a cycle need not look at every refusal to find none expired.
  private Instant filtersExpireFrom = Instant.MAX;

  public Allocator() {
    this(Config.defaults());
  }

  public Allocator(Config config) {
    this.config = Objects.requireNonNull(config, "config");
    this.roleSorter = new DrfSorter(config.fairnessExcludedResourceNames());
  }

  // ---- Agents ----

  /** An agent joins with all of {@code total} free. */
  public void addAgent(String agentId, String hostname, Resources total) {
    checkId("agent", agentId);
    checkId("hostname", hostname);
    Objects.requireNonNull(total, "total");
    if (agents.containsKey(agentId)) {
      throw new IllegalArgumentException("agent '" + agentId + "' is already added");
    }
    agents.put(agentId, new Agent(agentId, hostname, total));
    this.total = this.total.plus(total.scalarsOnly());
    roleSorter.addTotal(total);
    frameworkSorters.values().forEach(s -> s.addTotal(total));
  }

  /**
   * An agent leaves: what was offered or allocated on it stops counting for its frameworks and
   * roles, and refusals of it are dropped.
   */
  public void removeAgent(String agentId) {
    Agent agent = agent(agentId);
    for (Framework framework : frameworks.values()) {
      for (Map.Entry<String, TreeMap<String, Resources>> e : framework.allocations.entrySet()) {
        Resources lost = e.getValue().remove(agentId);
        if (lost != null) {
          roleSorter.unallocated(e.getKey(), lost);
          frameworkSorters.get(e.getKey()).unallocated(framework.id, lost);
        }
      }
      framework.allocations.values().removeIf(Map::isEmpty);
      for (TreeMap<String, List<Filter>> byAgent : framework.filters.values()) {
        byAgent.remove(agentId);
      }
      framework.filters.values().removeIf(Map::isEmpty);
    }
    agents.remove(agentId);
    total = total.minus(agent.total.scalarsOnly());
    roleSorter.removeTotal(agent.total);
    frameworkSorters.values().forEach(s -> s.removeTotal(agent.total));
  }

  /**
   * No offers of the agent's resources until {@link #activateAgent} (Mesos deactivates an agent
   * whose session broke, until it re-registers); what its frameworks hold on it stays charged.
   */
  public void deactivateAgent(String agentId) {
    agent(agentId).active = false;
  }

  /** Undoes {@link #deactivateAgent}. */
  public void activateAgent(String agentId) {
    agent(agentId).active = true;
  }

  // ---- Frameworks ----

  /**
   * A framework subscribes to {@code roles}, of which {@code suppressedRoles} start suppressed (a
   * subset of {@code roles}). Its id may not hold '/'.
   */
  public void addFramework(String frameworkId, Set<String> roles, Set<String> suppressedRoles) {
    checkId("framework", frameworkId);
    if (frameworkId.contains("/") || frameworkId.equals(".") || frameworkId.equals("..")) {
      throw new IllegalArgumentException(
          "framework id '" + frameworkId + "' may not hold '/' or be '.' or '..'");
    }
    if (frameworks.containsKey(frameworkId)) {
      throw new IllegalArgumentException("framework '" + frameworkId + "' is already added");
    }
    roles.forEach(Allocator::checkRole);
    for (String role : suppressedRoles) {
      if (!roles.contains(role)) {
        throw new IllegalArgumentException(
            "framework '" + frameworkId + "' suppresses role '" + role + "' it is not in");
      }
    }
    Framework framework = new Framework(frameworkId, roles, suppressedRoles);
    frameworks.put(frameworkId, framework);
    for (String role : framework.roles) {
      DrfSorter sorter = frameworkSorters.get(role);
      if (sorter == null) {
        sorter = new DrfSorter(config.fairnessExcludedResourceNames());
        sorter.addTotal(total);
        frameworkSorters.put(role, sorter);
        roleSorter.add(role);
      }
      sorter.add(frameworkId);
      if (framework.suppressed.contains(role)) {
        sorter.deactivate(frameworkId);
      }
    }
  }

  /**
   * A framework leaves: everything it was offered or allocated is free again on its agents, and a
   * role left with no framework leaves the order.
   */
  public void removeFramework(String frameworkId) {
    Framework framework = framework(frameworkId);
    for (Map.Entry<String, TreeMap<String, Resources>> e : framework.allocations.entrySet()) {
      String role = e.getKey();
      for (Map.Entry<String, Resources> held : e.getValue().entrySet()) {
        agents.get(held.getKey()).available =
            agents.get(held.getKey()).available.plus(held.getValue());
        roleSorter.unallocated(role, held.getValue());
      }
    }
    for (String role : framework.roles) {
      DrfSorter sorter = frameworkSorters.get(role);
      sorter.remove(frameworkId);
      if (sorter.count() == 0) {
        frameworkSorters.remove(role);
        roleSorter.remove(role);
      }
    }
    frameworks.remove(frameworkId);
  }

  /**
   * The framework gets no offers, in any role, until {@link #activateFramework}; what it holds
   * stays charged to it (Mesos deactivates a framework whose subscription ended, for its failover
   * timeout). Its suppressions and refusals are kept.
   */
  public void deactivateFramework(String frameworkId) {
    framework(frameworkId).active = false;
  }

  /** Undoes {@link #deactivateFramework}; suppressed roles stay suppressed. */
  public void activateFramework(String frameworkId) {
    framework(frameworkId).active = true;
  }

  public boolean isActive(String frameworkId) {
    return framework(frameworkId).active;
  }

  /** No more offers to these roles of the framework (all its roles if empty) until revived. */
  public void suppress(String frameworkId, Set<String> roles) {
    Framework framework = framework(frameworkId);
    for (String role : rolesOf(framework, roles)) {
      framework.suppressed.add(role);
      frameworkSorters.get(role).deactivate(frameworkId);
    }
  }

  /** Clears all the framework's refusals and suppressions. */
  public void revive(String frameworkId) {
    revive(frameworkId, Set.of());
  }

  /**
   * Clears the framework's refusals in these roles (all its roles if empty) and unsuppresses them,
   * as Mesos's REVIVE does.
   */
  public void revive(String frameworkId, Set<String> roles) {
    Framework framework = framework(frameworkId);
    for (String role : rolesOf(framework, roles)) {
      framework.filters.remove(role);
      framework.suppressed.remove(role);
      frameworkSorters.get(role).activate(frameworkId);
    }
  }

  private static Set<String> rolesOf(Framework framework, Set<String> roles) {
    if (roles.isEmpty()) {
      return framework.roles;
    }
    for (String role : roles) {
      if (!framework.roles.contains(role)) {
        throw new IllegalArgumentException(
            "framework '" + framework.id + "' is not in role '" + role + "'");
      }
    }
    return new TreeSet<>(roles);
  }

  // ---- Roles ----

  /** A role's weight in fair sharing (the registry's Weight entries); 1.0 by default. */
  public void updateWeight(String role, double weight) {
    checkRole(role);
    roleSorter.updateWeight(role, weight);
  }

  // ---- Offers ----

  /**
   * Makes offers from what is free now, in order (see the class comment). Refusals that expired by
   * {@code now} are dropped first.
   */
  public List<Offer> allocate(Instant now) {
    Objects.requireNonNull(now, "now");
    expireFilters(now);
    List<Offer> offers = new ArrayList<>();
    // Quota would add a first stage here: the same walk for roles below their guarantees only,
    // before this fair-share stage (Mesos's __generateOffers).
    // The orders are read lazily (DrfSorter.Cursor): an agent usually goes whole to the first
    // framework not filtered, so sorting every client for every agent would be mostly wasted.
    agents:
    for (Agent agent : agents.values()) {
      if (!agentOfferable(agent, now)) {
        continue;
      }
      DrfSorter.Cursor roles = roleSorter.cursor();
      while (roles.hasNext()) {
        String role = roles.next();
        if (!allocatable(agent.available)) {
          break;
        }
        DrfSorter.Cursor frameworksInOrder = frameworkSorters.get(role).cursor();
        while (frameworksInOrder.hasNext()) {
          String frameworkId = frameworksInOrder.next();
          Resources toOffer = offerable(agent, role);
          if (!allocatable(toOffer)) {
            break;
          }
          Framework framework = frameworks.get(frameworkId);
          if (!framework.active || isFiltered(framework, role, agent.id, toOffer, now)) {
            continue;
          }
          if (toOffer.equals(agent.available) || !allocatable(agent.available.minus(toOffer))) {
            // Nothing offerable is left on the agent for any role (offerable is part of what is
            // free): both walks would stop here, so they need not survive the charge.
            charge(framework, role, agent, toOffer);
            offers.add(new Offer(frameworkId, agent.id, role, toOffer));
            continue agents;
          }
          // The walks go on after the charge (not with today's seams: an offer takes everything
          // free). As in Mesos, they keep the orders as they were before it: copy what is left.
          roles.detach();
          frameworksInOrder.detach();
          charge(framework, role, agent, toOffer);
          offers.add(new Offer(frameworkId, agent.id, role, toOffer));
        }
      }
    }
    return offers;
  }

  /**
   * Seam for maintenance: whether the agent's resources may be offered at {@code now} (Mesos keeps
   * offering an agent that is scheduled for maintenance, with inverse offers alongside; an agent
   * that is down for maintenance is deactivated).
   */
  private boolean agentOfferable(Agent agent, Instant now) {
    return agent.active;
  }

  /**
   * Seam for quota: what of the agent's free resources the role may be offered (Mesos shrinks the
   * unreserved scalars to the role's limits and to the headroom other roles' guarantees need).
   * Always part of {@code agent.available}: {@link #allocate} relies on it to stop at an agent.
   */
  private Resources offerable(Agent agent, String role) {
    return agent.available;
  }

  private boolean allocatable(Resources resources) {
    if (resources.isEmpty()) {
      return false;
    }
    if (config.minAllocatable().isEmpty()) {
      return true;
    }
    for (Resources min : config.minAllocatable()) {
      if (resources.contains(min)) {
        return true;
      }
    }
    return false;
  }

  private static boolean isFiltered(
      Framework framework, String role, String agentId, Resources resources, Instant now) {
    TreeMap<String, List<Filter>> byAgent = framework.filters.get(role);
    if (byAgent == null) {
      return false;
    }
    for (Filter f : byAgent.getOrDefault(agentId, List.of())) {
      if (now.isBefore(f.expires()) && f.refused().contains(resources)) {
        return true;
      }
    }
    return false;
  }

  private void expireFilters(Instant now) {
    if (now.isBefore(filtersExpireFrom)) {
      return;
    }
    Instant next = Instant.MAX;
    for (Framework framework : frameworks.values()) {
      for (Iterator<TreeMap<String, List<Filter>>> roles = framework.filters.values().iterator();
          roles.hasNext(); ) {
        TreeMap<String, List<Filter>> byAgent = roles.next();
        for (Iterator<List<Filter>> lists = byAgent.values().iterator(); lists.hasNext(); ) {
          List<Filter> list = lists.next();
          list.removeIf(f -> !now.isBefore(f.expires()));
          if (list.isEmpty()) {
            lists.remove();
          }
          for (Filter f : list) {
            if (f.expires().isBefore(next)) {
              next = f.expires();
            }
          }
        }
        if (byAgent.isEmpty()) {
          roles.remove();
        }
      }
    }
    filtersExpireFrom = next;
  }

  private void charge(Framework framework, String role, Agent agent, Resources resources) {
    agent.available = agent.available.minus(resources);
    framework
        .allocations
        .computeIfAbsent(role, r -> new TreeMap<>())
        .merge(agent.id, resources, Resources::plus);
    roleSorter.allocated(role, resources);
    frameworkSorters.get(role).allocated(framework.id, resources);
  }

  /**
   * Charges resources that are already in use to the framework's role on the agent, without an
   * offer: the tasks an agent reports when it re-registers (Mesos passes them to {@code addSlave}).
   * They are no longer free, and count in the shares, until {@link #recover recovered}. Refused
   * (changing nothing) if the framework is not in the role or the agent does not have them free.
   */
  public void allocated(String frameworkId, String agentId, String role, Resources resources) {
    Framework framework = framework(frameworkId);
    Agent agent = agent(agentId);
    if (!framework.roles.contains(role)) {
      throw new IllegalArgumentException(
          "framework '" + frameworkId + "' is not in role '" + role + "'");
    }
    if (!agent.available.contains(resources)) {
      throw new IllegalArgumentException(
          "agent '"
              + agentId
              + "' does not have '"
              + resources
              + "' free for framework '"
              + frameworkId
              + "' (free: '"
              + agent.available
              + "')");
    }
    if (!resources.isEmpty()) {
      charge(framework, role, agent, resources);
    }
  }

  /**
   * Gives back resources the framework was offered or allocated in {@code role} on the agent: an
   * offer declined, rescinded or partly used, or a task that ended. Ignored if the framework or the
   * agent is gone; refused if the framework does not hold them.
   */
  public void recover(String frameworkId, String agentId, String role, Resources resources) {
    Framework framework = frameworks.get(Objects.requireNonNull(frameworkId, "frameworkId"));
    Agent agent = agents.get(Objects.requireNonNull(agentId, "agentId"));
    if (framework == null || agent == null || resources.isEmpty()) {
      return;
    }
    TreeMap<String, Resources> byAgent = framework.allocations.get(role);
    Resources held =
        byAgent == null ? Resources.EMPTY : byAgent.getOrDefault(agentId, Resources.EMPTY);
    Resources left;
    try {
      left = held.minus(resources);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "framework '"
              + frameworkId
              + "' does not hold what it gives back in role '"
              + role
              + "' on agent '"
              + agentId
              + "': "
              + e.getMessage(),
          e);
    }
    if (left.isEmpty()) {
      byAgent.remove(agentId);
      if (byAgent.isEmpty()) {
        framework.allocations.remove(role);
      }
    } else {
      byAgent.put(agentId, left);
    }
    agent.available = agent.available.plus(resources);
    roleSorter.unallocated(role, resources);
    frameworkSorters.get(role).unallocated(frameworkId, resources);
  }

  /** {@link #recover} of a whole offer. */
  public void recover(Offer offer) {
    recover(offer.frameworkId(), offer.agentId(), offer.role(), offer.resources());
  }

  /**
   * The framework declines resources it was offered: they are {@link #recover recovered}, and not
   * offered to it again in that role on that agent before {@code now + refuse} (unless more is
   * free, or it revives). A null or negative {@code refuse} is {@link #DEFAULT_REFUSE}, more than
   * {@link #MAX_REFUSE} is that, zero refuses nothing.
   */
  public void decline(
      String frameworkId,
      String agentId,
      String role,
      Resources resources,
      Duration refuse,
      Instant now) {
    Objects.requireNonNull(now, "now");
    recover(frameworkId, agentId, role, resources);
    Framework framework = frameworks.get(frameworkId);
    if (framework == null || !agents.containsKey(agentId) || resources.isEmpty()) {
      return;
    }
    Duration timeout =
        refuse == null || refuse.isNegative()
            ? DEFAULT_REFUSE
            : refuse.compareTo(MAX_REFUSE) > 0 ? MAX_REFUSE : refuse;
    if (timeout.isZero()) {
      return;
    }
    framework
        .filters
        .computeIfAbsent(role, r -> new TreeMap<>())
        .computeIfAbsent(agentId, a -> new ArrayList<>())
        .add(new Filter(resources, now.plus(timeout)));
    if (now.plus(timeout).isBefore(filtersExpireFrom)) {
      filtersExpireFrom = now.plus(timeout);
    }
  }

  /** {@link #decline} of a whole offer. */
  public void decline(Offer offer, Duration refuse, Instant now) {
    decline(offer.frameworkId(), offer.agentId(), offer.role(), offer.resources(), refuse, now);
  }

  // ---- Reading ----

  /** What is free on the agent (neither offered nor allocated). */
  public Resources available(String agentId) {
    return agent(agentId).available;
  }

  public String hostname(String agentId) {
    return agent(agentId).hostname;
  }

  /** The sum of the agents' scalars (ranges of different agents are not summed). */
  public Resources total() {
    return total;
  }

  /** What the framework holds (offered or allocated) in the role, by agent. */
  public SortedMap<String, Resources> allocation(String frameworkId, String role) {
    TreeMap<String, Resources> byAgent = framework(frameworkId).allocations.get(role);
    return byAgent == null
        ? Collections.emptySortedMap()
        : Collections.unmodifiableSortedMap(new TreeMap<>(byAgent));
  }

  /**
   * The scalars all frameworks hold (offered or allocated) in exactly this role, over all agents;
   * empty if the role has no framework.
   */
  public Resources roleAllocation(String role) {
    return roleSorter.contains(role) ? roleSorter.allocation(role) : Resources.EMPTY;
  }

  /** The roles with frameworks, in the order the next agent would be offered to them. */
  public List<String> roleOrder() {
    return roleSorter.sort();
  }

  /** The framework's roles that are suppressed. */
  public SortedSet<String> suppressedRoles(String frameworkId) {
    return Collections.unmodifiableSortedSet(new TreeSet<>(framework(frameworkId).suppressed));
  }

  // ---- Checks ----

  private Agent agent(String agentId) {
    Agent agent = agents.get(Objects.requireNonNull(agentId, "agentId"));
    if (agent == null) {
      throw new IllegalArgumentException("no agent '" + agentId + "'");
    }
    return agent;
  }

  private Framework framework(String frameworkId) {
    Framework framework = frameworks.get(Objects.requireNonNull(frameworkId, "frameworkId"));
    if (framework == null) {
      throw new IllegalArgumentException("no framework '" + frameworkId + "'");
    }
    return framework;
  }

  private static void checkId(String what, String id) {
    Objects.requireNonNull(id, what);
    if (id.isBlank()) {
      throw new IllegalArgumentException("empty " + what + (what.equals("hostname") ? "" : " id"));
    }
  }

  /** Refuses a role name the allocator does not take, with a one-line message naming it. */
  public static void checkRole(String role) {
    Objects.requireNonNull(role, "role");
    if (role.equals(DEFAULT_ROLE)) {
      return;
    }
    if (role.length() > ROLE_MAX_LENGTH || !ROLE.matcher(role).matches()) {
      throw new IllegalArgumentException(
          "invalid role '"
              + role
              + "': '/'-separated segments of letters, digits, '_', '.' and '-', none empty or"
              + " beginning with '.' or '-', at most "
              + ROLE_MAX_LENGTH
              + " characters");
    }
  }
}
