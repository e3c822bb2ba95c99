package io.kmesos.master.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.kmesos.api.resources.Resources;
import io.kmesos.master.allocator.Allocator.Config;
import io.kmesos.master.allocator.Allocator.Offer;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The allocator's books and its order of offers: agents, frameworks, roles, recovery. */
class AllocatorTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final String AGENT = "cpus:4;mem:1024;disk:100;ports:[31000-31099]";

  static Resources r(String text) {
    return Resources.parse(text);
  }

  static Offer offer(String framework, String agent, String role, String resources) {
    return new Offer(framework, agent, role, r(resources));
  }

  final Allocator allocator = new Allocator();

  void agents(String... ids) {
    for (String id : ids) {
      allocator.addAgent(id, id + ".example.com", r(AGENT));
    }
  }

  @Test
  void theOnlyFrameworkIsOfferedWholeAgents() {
    agents("ag1", "ag2");
    allocator.addFramework("f", Set.of("web"), Set.of());
    assertThat(allocator.allocate(T0))
        .containsExactly(offer("f", "ag1", "web", AGENT), offer("f", "ag2", "web", AGENT));
    assertThat(allocator.available("ag1").isEmpty()).isTrue();
    // Sums over agents are of scalars: both agents have the same ports, which a sum would merge.
    Resources two = r("cpus:8;mem:2048;disk:200");
    assertThat(allocator.roleAllocation("web")).isEqualTo(two);
    assertThat(allocator.total()).isEqualTo(two);
    assertThat(allocator.allocation("f", "web")).containsOnlyKeys("ag1", "ag2");
    assertThat(allocator.hostname("ag2")).isEqualTo("ag2.example.com");
  }

  @Test
  void nothingIsOfferedTwiceAndRecoveredResourcesAreOfferedAgain() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    Offer first = allocator.allocate(T0).get(0);
    assertThat(allocator.allocate(T0)).isEmpty();

    // The framework launches a task with part of it and gives the rest back.
    allocator.recover("f", "ag1", "web", r(AGENT).minus(r("cpus:1;mem:256")));
    assertThat(allocator.allocate(T0))
        .containsExactly(offer("f", "ag1", "web", "cpus:3;mem:768;disk:100;ports:[31000-31099]"));
    assertThat(allocator.available("ag1").isEmpty()).isTrue();

    // Everything comes back: the task ended and the second offer is declined.
    allocator.recover(first.frameworkId(), "ag1", "web", r("cpus:1;mem:256"));
    allocator.recover("f", "ag1", "web", r("cpus:3;mem:768;disk:100;ports:[31000-31099]"));
    assertThat(allocator.available("ag1")).isEqualTo(r(AGENT));
    assertThat(allocator.roleAllocation("web").isEmpty()).isTrue();
    assertThat(allocator.allocation("f", "web")).isEmpty();
    assertThat(allocator.allocate(T0)).containsExactly(first);
  }

  @Test
  void rolesTakeTurnsByDominantShareAgentsInIdOrder() {
    agents("ag3", "ag1", "ag4", "ag2");
    allocator.addFramework("fb", Set.of("b"), Set.of());
    allocator.addFramework("fa", Set.of("a"), Set.of());
    // ag1: both at 0, "a" first by name; ag2: b is behind; ag3: equal shares and counts, "a".
    assertThat(allocator.allocate(T0))
        .extracting(Offer::agentId, Offer::role)
        .containsExactly(
            tuple("ag1", "a"), tuple("ag2", "b"), tuple("ag3", "a"), tuple("ag4", "b"));
  }

  @Test
  void weightsFavourTheHeavierRole() {
    agents("ag1", "ag2", "ag3", "ag4", "ag5", "ag6", "ag7", "ag8");
    allocator.updateWeight("b", 3);
    allocator.addFramework("fa", Set.of("a"), Set.of());
    allocator.addFramework("fb", Set.of("b"), Set.of());
    List<Offer> offers = allocator.allocate(T0);
    assertThat(offers.stream().filter(o -> o.role().equals("a")).count()).isEqualTo(2);
    assertThat(offers.stream().filter(o -> o.role().equals("b")).count()).isEqualTo(6);
  }

  @Test
  void frameworksWithinARoleFollowDrfToo() {
    agents("ag1");
    allocator.addFramework("f1", Set.of("web"), Set.of());
    allocator.addFramework("f2", Set.of("web"), Set.of());
    assertThat(allocator.allocate(T0)).extracting(Offer::frameworkId).containsExactly("f1");
    agents("ag2", "ag3");
    // f1 holds ag1; f2 is behind, then they are equal and f1 was allocated as often: name order.
    assertThat(allocator.allocate(T0))
        .extracting(Offer::frameworkId, Offer::agentId)
        .containsExactly(tuple("f2", "ag2"), tuple("f1", "ag3"));
  }

  @Test
  void subtreesOfHierarchicalRolesAreComparedFirst() {
    agents("ag1", "ag2", "ag3");
    allocator.addFramework("web", Set.of("eng/web"), Set.of());
    allocator.addFramework("batch", Set.of("eng/batch"), Set.of());
    allocator.addFramework("ops", Set.of("ops"), Set.of());
    assertThat(allocator.roleOrder()).containsExactly("eng/batch", "eng/web", "ops");
    // ag1: eng and ops tie, eng by name, eng/batch by name; ag2: eng is ahead, ops;
    // ag3: eng and ops tie again, inside eng web is behind.
    assertThat(allocator.allocate(T0))
        .extracting(Offer::frameworkId)
        .containsExactly("batch", "ops", "web");
  }

  @Test
  void aFrameworkInTwoRolesIsOfferedInEach() {
    agents("ag1", "ag2");
    allocator.addFramework("f", Set.of("x", "y"), Set.of());
    assertThat(allocator.allocate(T0))
        .containsExactly(offer("f", "ag1", "x", AGENT), offer("f", "ag2", "y", AGENT));
    assertThatThrownBy(() -> allocator.recover("f", "ag1", "y", r("cpus:1")))
        .hasMessageContaining("in role 'y' on agent 'ag1'");
    allocator.recover("f", "ag1", "x", r("cpus:1"));
    assertThat(allocator.allocation("f", "x")).containsEntry("ag1", r(AGENT).minus(r("cpus:1")));
  }

  @Test
  void sliversBelowTheMinimumAllocatableAreNotOffered() {
    allocator.addAgent("tiny", "tiny", r("cpus:0.005;mem:16;disk:1000"));
    allocator.addAgent("mem-only", "m", r("mem:32"));
    allocator.addFramework("f", Set.of("web"), Set.of());
    assertThat(allocator.allocate(T0)).containsExactly(offer("f", "mem-only", "web", "mem:32"));

    Allocator anything = new Allocator(new Config(List.of(), Set.of()));
    anything.addAgent("tiny", "tiny", r("cpus:0.005"));
    anything.addFramework("f", Set.of("web"), Set.of());
    assertThat(anything.allocate(T0)).containsExactly(offer("f", "tiny", "web", "cpus:0.005"));
  }

  @Test
  void removingAnAgentDropsWhatWasAllocatedOnIt() {
    agents("ag1", "ag2");
    allocator.addFramework("f", Set.of("web"), Set.of());
    List<Offer> offers = allocator.allocate(T0);
    allocator.removeAgent("ag1");
    assertThat(allocator.roleAllocation("web")).isEqualTo(r(AGENT).scalarsOnly());
    assertThat(allocator.allocation("f", "web")).containsOnlyKeys("ag2");
    assertThat(allocator.allocation("f", "web").get("ag2")).isEqualTo(r(AGENT));
    assertThat(allocator.total()).isEqualTo(r(AGENT).scalarsOnly());
    allocator.recover(offers.get(0)); // the master's late recovery is ignored
    assertThatThrownBy(() -> allocator.available("ag1")).hasMessage("no agent 'ag1'");
    agents("ag1");
    assertThat(allocator.allocate(T0)).containsExactly(offer("f", "ag1", "web", AGENT));
  }

  @Test
  void removingAFrameworkFreesWhatItHeldAndItsEmptyRoles() {
    agents("ag1");
    allocator.addFramework("f1", Set.of("a"), Set.of());
    allocator.addFramework("f2", Set.of("b"), Set.of());
    assertThat(allocator.allocate(T0)).extracting(Offer::frameworkId).containsExactly("f1");
    allocator.removeFramework("f1");
    assertThat(allocator.available("ag1")).isEqualTo(r(AGENT));
    assertThat(allocator.roleOrder()).containsExactly("b");
    assertThat(allocator.roleAllocation("a").isEmpty()).isTrue();
    assertThat(allocator.allocate(T0)).containsExactly(offer("f2", "ag1", "b", AGENT));
    allocator.recover("f1", "ag1", "a", r(AGENT)); // gone: ignored
    allocator.addFramework("f1", Set.of("a"), Set.of()); // may come back
    assertThat(allocator.roleOrder()).containsExactly("a", "b");
  }

  @Test
  void recoveringWhatAFrameworkDoesNotHoldIsRefused() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    allocator.allocate(T0);
    assertThatThrownBy(() -> allocator.recover("f", "ag1", "web", r("cpus:5")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "framework 'f' does not hold what it gives back in role 'web' on agent 'ag1': cannot"
                + " subtract 'cpus:5' from '"
                + r(AGENT)
                + "': not enough 'cpus' (4 < 5)");
    assertThatThrownBy(() -> allocator.recover("f", "ag1", "other", r("cpus:1")))
        .hasMessageContaining("in role 'other'");
    allocator.recover("f", "ag1", "web", Resources.EMPTY); // nothing to do
    assertThat(allocator.available("ag1").isEmpty()).isTrue();
  }

  @Test
  void badInputIsRefused() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    assertThatThrownBy(() -> agents("ag1")).hasMessage("agent 'ag1' is already added");
    assertThatThrownBy(() -> allocator.addAgent("", "h", r("cpus:1"))).hasMessage("empty agent id");
    assertThatThrownBy(() -> allocator.addFramework("f", Set.of("web"), Set.of()))
        .hasMessage("framework 'f' is already added");
    assertThatThrownBy(() -> allocator.addFramework("g/h", Set.of("web"), Set.of()))
        .hasMessageContaining("may not hold '/'");
    assertThatThrownBy(() -> allocator.addFramework("g", Set.of("web"), Set.of("ops")))
        .hasMessage("framework 'g' suppresses role 'ops' it is not in");
    for (String bad : List.of("", "/a", "a/", "a//b", ".a", "-a", "a/.b", "**", "*/a", "a b")) {
      assertThatThrownBy(() -> allocator.addFramework("g", Set.of(bad), Set.of()))
          .as(bad)
          .hasMessageStartingWith("invalid role '" + bad + "'");
      assertThatThrownBy(() -> allocator.updateWeight(bad, 2))
          .hasMessageStartingWith("invalid role");
    }
    assertThatThrownBy(() -> allocator.addFramework("g", Set.of("r".repeat(256)), Set.of()))
        .hasMessageStartingWith("invalid role");
    assertThatThrownBy(() -> allocator.updateWeight("web", 0))
        .hasMessageContaining("positive number");
    assertThatThrownBy(() -> allocator.suppress("f", Set.of("ops")))
        .hasMessage("framework 'f' is not in role 'ops'");
    assertThatThrownBy(() -> allocator.revive("nobody")).hasMessage("no framework 'nobody'");
    assertThatThrownBy(() -> allocator.removeAgent("nobody")).hasMessage("no agent 'nobody'");
    // Nothing half-done by the refusals above.
    assertThat(allocator.roleOrder()).containsExactly("web");
  }

  @Test
  void theDefaultRoleIsARole() {
    agents("ag1");
    allocator.addFramework("f", Set.of("*"), Set.of());
    assertThat(allocator.allocate(T0)).containsExactly(offer("f", "ag1", "*", AGENT));
  }

  @Test
  void anInactiveFrameworkKeepsWhatItHoldsAndGetsNoOffers() {
    agents("ag1", "ag2");
    allocator.addFramework("f", Set.of("web"), Set.of());
    allocator.addFramework("g", Set.of("web"), Set.of());
    List<Offer> first = allocator.allocate(T0);
    assertThat(first)
        .containsExactly(offer("f", "ag1", "web", AGENT), offer("g", "ag2", "web", AGENT));
    first.forEach(allocator::recover);
    allocator.deactivateFramework("f");
    assertThat(allocator.isActive("f")).isFalse();
    // Only g is offered, both agents (f's share is lower, but f is inactive).
    assertThat(allocator.allocate(T0)).extracting(Offer::frameworkId).containsExactly("g", "g");
    allocator.recover(offer("g", "ag1", "web", AGENT));
    allocator.recover(offer("g", "ag2", "web", AGENT));
    allocator.activateFramework("f");
    assertThat(allocator.allocate(T0)).containsExactly(first.toArray(Offer[]::new));
  }

  @Test
  void anInactiveAgentIsNotOffered() {
    agents("ag1", "ag2");
    allocator.addFramework("f", Set.of("web"), Set.of());
    allocator.deactivateAgent("ag1");
    assertThat(allocator.allocate(T0)).containsExactly(offer("f", "ag2", "web", AGENT));
    allocator.activateAgent("ag1");
    assertThat(allocator.allocate(T0)).containsExactly(offer("f", "ag1", "web", AGENT));
  }

  @Test
  void resourcesInUseAreChargedWithoutAnOffer() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    allocator.allocated("f", "ag1", "web", r("cpus:1;mem:256"));
    assertThat(allocator.available("ag1"))
        .isEqualTo(r("cpus:3;mem:768;disk:100;ports:[31000-31099]"));
    assertThat(allocator.allocation("f", "web")).containsEntry("ag1", r("cpus:1;mem:256"));
    assertThat(allocator.roleAllocation("web")).isEqualTo(r("cpus:1;mem:256"));
    assertThatThrownBy(() -> allocator.allocated("f", "ag1", "web", r("cpus:4")))
        .hasMessageStartingWith("agent 'ag1' does not have 'cpus:4' free for framework 'f'");
    assertThatThrownBy(() -> allocator.allocated("f", "ag1", "ops", r("cpus:1")))
        .hasMessage("framework 'f' is not in role 'ops'");
    allocator.recover("f", "ag1", "web", r("cpus:1;mem:256"));
    assertThat(allocator.available("ag1")).isEqualTo(r(AGENT));
  }

  @Test
  void aRoleWithoutFrameworksIsNotInTheOrderButItsWeightIsKept() {
    allocator.updateWeight("b", 3);
    agents("ag1", "ag2", "ag3", "ag4");
    assertThat(allocator.roleOrder()).isEmpty();
    assertThat(allocator.allocate(T0)).isEmpty();
    allocator.addFramework("fa", Set.of("a"), Set.of());
    allocator.addFramework("fb", Set.of("b"), Set.of());
    assertThat(allocator.allocate(T0)).extracting(Offer::role).containsExactly("a", "b", "b", "b");
  }
}
