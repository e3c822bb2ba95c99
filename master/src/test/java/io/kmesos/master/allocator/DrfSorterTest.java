package io.kmesos.master.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.kmesos.api.resources.Resources;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The hierarchical DRF sorter: shares, weights, ties, the tree, activation, the pool. */
class DrfSorterTest {
  static Resources r(String text) {
    return Resources.parse(text);
  }

  static DrfSorter sorter(String total, String... clients) {
    DrfSorter s = new DrfSorter();
    s.addTotal(r(total));
    for (String c : clients) {
      s.add(c);
    }
    return s;
  }

  @Test
  void emptySorterSortsToNothing() {
    assertThat(new DrfSorter().sort()).isEmpty();
  }

  @Test
  void clientsWithNothingAreInNameOrder() {
    assertThat(sorter("cpus:10", "c", "a", "b").sort()).containsExactly("a", "b", "c");
  }

  @Test
  void theDominantShareIsTheLargestFractionOfThePool() {
    DrfSorter s = sorter("cpus:100;mem:1000", "a", "b");
    s.allocated("a", r("cpus:10;mem:50")); // dominant: cpus 0.1
    s.allocated("b", r("cpus:1;mem:200")); // dominant: mem 0.2
    assertThat(s.share("a")).isCloseTo(0.1, within(1e-12));
    assertThat(s.share("b")).isCloseTo(0.2, within(1e-12));
    assertThat(s.sort()).containsExactly("a", "b");

    s.allocated("a", r("mem:200")); // now mem 0.25
    assertThat(s.sort()).containsExactly("b", "a");
    s.unallocated("a", r("mem:200"));
    assertThat(s.sort()).containsExactly("a", "b");
  }

  @Test
  void rangesAndResourcesOutsideThePoolDoNotCount() {
    DrfSorter s = sorter("cpus:100;ports:[1-100]", "a", "b");
    s.allocated("a", r("cpus:1"));
    s.allocated("b", r("ports:[1-100];gpus:5"));
    assertThat(s.total()).isEqualTo(r("cpus:100"));
    assertThat(s.share("b")).isZero();
    assertThat(s.sort()).containsExactly("b", "a");
  }

  @Test
  void excludedResourceNamesDoNotCount() {
    DrfSorter s = new DrfSorter(Set.of("gpus"));
    s.addTotal(r("cpus:10;gpus:2"));
    s.add("a");
    s.add("b");
    s.allocated("a", r("cpus:1"));
    s.allocated("b", r("gpus:2"));
    assertThat(s.share("b")).isZero();
    assertThat(s.sort()).containsExactly("b", "a");
  }

  @Test
  void weightsDivideTheShare() {
    DrfSorter s = sorter("cpus:100", "a", "b");
    s.updateWeight("b", 3);
    s.allocated("a", r("cpus:10"));
    s.allocated("b", r("cpus:20"));
    // a: 0.1, b: 0.2 / 3
    assertThat(s.sort()).containsExactly("b", "a");
    assertThat(s.share("b")).isCloseTo(0.2 / 3, within(1e-12));
    s.allocated("b", r("cpus:11")); // b: 0.31 / 3 > 0.1
    assertThat(s.sort()).containsExactly("a", "b");
    assertThat(s.weight("b")).isEqualTo(3);
    assertThat(s.weight("nobody")).isEqualTo(1);
  }

  @Test
  void weightsMayBeSetBeforeTheClientExistsAndOutliveIt() {
    DrfSorter s = sorter("cpus:100", "a");
    s.updateWeight("b", 4);
    s.add("b");
    s.allocated("a", r("cpus:10"));
    s.allocated("b", r("cpus:30"));
    assertThat(s.sort()).containsExactly("b", "a");
    s.remove("b");
    s.add("b");
    s.allocated("b", r("cpus:30"));
    assertThat(s.sort()).containsExactly("b", "a");
  }

  @Test
  void badWeightsAreRefused() {
    DrfSorter s = new DrfSorter();
    assertThatThrownBy(() -> s.updateWeight("a", 0)).hasMessageContaining("positive number");
    assertThatThrownBy(() -> s.updateWeight("a", -1)).hasMessageContaining("positive number");
    assertThatThrownBy(() -> s.updateWeight("a", Double.NaN))
        .hasMessageContaining("positive number");
    assertThatThrownBy(() -> s.updateWeight("a", Double.POSITIVE_INFINITY))
        .hasMessageContaining("positive number");
  }

  @Test
  void equalSharesGoToTheClientAllocatedFewerTimesThenByName() {
    DrfSorter s = sorter("cpus:100", "a", "b");
    s.allocated("a", r("cpus:1"));
    s.allocated("a", r("cpus:1"));
    s.allocated("b", r("cpus:2"));
    assertThat(s.share("a")).isEqualTo(s.share("b"));
    assertThat(s.sort()).containsExactly("b", "a"); // b was allocated once, a twice
    s.allocated("b", r("cpus:1"));
    s.unallocated("b", r("cpus:1")); // shares equal again, counts equal (2 each)
    assertThat(s.sort()).containsExactly("a", "b");
  }

  @Test
  void siblingsAreComparedByTheirSubtrees() {
    // Mesos's example: eng/a is small but eng as a whole is large, so ops comes first.
    DrfSorter s = sorter("cpus:100", "eng/a", "eng/b", "ops");
    s.allocated("eng/a", r("cpus:1"));
    s.allocated("eng/b", r("cpus:30"));
    s.allocated("ops", r("cpus:20"));
    assertThat(s.sort()).containsExactly("ops", "eng/a", "eng/b");
    s.allocated("ops", r("cpus:20")); // ops 40 > eng 31
    assertThat(s.sort()).containsExactly("eng/a", "eng/b", "ops");
  }

  @Test
  void aWeightOnAnInnerNodeAppliesToItsSubtree() {
    DrfSorter s = sorter("cpus:100", "eng/a", "eng/b", "ops");
    s.allocated("eng/a", r("cpus:20"));
    s.allocated("eng/b", r("cpus:20"));
    s.allocated("ops", r("cpus:20"));
    assertThat(s.sort()).containsExactly("ops", "eng/a", "eng/b");
    s.updateWeight("eng", 3); // eng: 0.4 / 3 < ops 0.2
    assertThat(s.sort()).containsExactly("eng/a", "eng/b", "ops");
    s.updateWeight("eng/b", 2); // within eng: b 0.1 < a 0.2
    assertThat(s.sort()).containsExactly("eng/b", "eng/a", "ops");
  }

  @Test
  void aClientWithChildrenCompetesAmongThemAsAVirtualLeaf() {
    DrfSorter s = sorter("cpus:100", "a", "a/b", "c");
    s.updateWeight("a", 10);
    s.allocated("a", r("cpus:30"));
    s.allocated("a/b", r("cpus:10"));
    s.allocated("c", r("cpus:5"));
    // a's subtree: 0.4 / 10 = 0.04 < c 0.05; inside a: a/b (0.1) before a's own leaf (0.3, weight
    // 1).
    assertThat(s.sort()).containsExactly("a/b", "a", "c");
    assertThat(s.share("a")).isCloseTo(0.3, within(1e-12));
    assertThat(s.allocation("a")).isEqualTo(r("cpus:30"));
    assertThat(s.nodePaths()).containsExactly("a", "a/b", "c");

    // a/b leaves: a is a plain leaf again, with a's weight.
    s.remove("a/b");
    assertThat(s.share("a")).isCloseTo(0.03, within(1e-12));
    assertThat(s.sort()).containsExactly("a", "c");
    assertThat(s.nodePaths()).containsExactly("a", "c");
  }

  @Test
  void removingAClientTakesItsAllocationOutOfItsAncestorsAndPrunesTheTree() {
    DrfSorter s = sorter("cpus:100", "x/y/z", "x/w", "v");
    s.allocated("x/y/z", r("cpus:50"));
    s.allocated("x/w", r("cpus:2"));
    s.allocated("v", r("cpus:10"));
    assertThat(s.sort()).containsExactly("v", "x/w", "x/y/z");
    s.remove("x/y/z");
    assertThat(s.nodePaths()).containsExactly("v", "x", "x/w");
    assertThat(s.sort()).containsExactly("x/w", "v"); // x is 0.02 now
    assertThat(s.contains("x/y/z")).isFalse();
    assertThat(s.count()).isEqualTo(2);
    s.remove("x/w");
    s.remove("v");
    assertThat(s.nodePaths()).isEmpty();
    assertThat(s.sort()).isEmpty();
  }

  @Test
  void removingAClientWithChildrenKeepsThemAsAnInnerNode() {
    DrfSorter s = sorter("cpus:100", "a", "a/b");
    s.allocated("a", r("cpus:40"));
    s.remove("a");
    assertThat(s.sort()).containsExactly("a/b");
    assertThat(s.nodePaths()).containsExactly("a", "a/b");
    s.add("a");
    assertThat(s.allocation("a").isEmpty()).isTrue();
    assertThat(s.sort()).containsExactly("a", "a/b"); // "a/." < "a/b"
  }

  @Test
  void inactiveClientsKeepTheirAllocationButAreNotSorted() {
    DrfSorter s = sorter("cpus:100", "a", "b", "c/d");
    s.allocated("b", r("cpus:10"));
    s.deactivate("b");
    s.deactivate("c/d");
    assertThat(s.isActive("b")).isFalse();
    assertThat(s.sort()).containsExactly("a");
    s.activate("b");
    assertThat(s.sort()).containsExactly("a", "b");
    assertThat(s.allocation("b")).isEqualTo(r("cpus:10"));
  }

  @Test
  void theTotalCanChangeAndSharesFollowIt() {
    DrfSorter s = sorter("cpus:10;mem:100", "a", "b");
    s.allocated("a", r("cpus:5")); // 0.5
    s.allocated("b", r("mem:40")); // 0.4
    assertThat(s.sort()).containsExactly("b", "a");
    s.addTotal(r("cpus:10")); // a: 0.25
    assertThat(s.sort()).containsExactly("a", "b");
    s.removeTotal(r("cpus:10;mem:50")); // a 0.5, b 0.8
    assertThat(s.sort()).containsExactly("a", "b");
    assertThat(s.total()).isEqualTo(r("cpus:10;mem:50"));
    assertThatThrownBy(() -> s.removeTotal(r("gpus:1"))).hasMessageContaining("'gpus'");
  }

  @Test
  void anEmptyPoolGivesEveryoneAZeroShare() {
    DrfSorter s = sorter("", "b", "a");
    s.allocated("b", r("cpus:1"));
    assertThat(s.share("b")).isZero();
    assertThat(s.sort()).containsExactly("a", "b");
  }

  @Test
  void misuseIsRefusedWithTheName() {
    DrfSorter s = sorter("cpus:10", "a");
    s.allocated("a", r("cpus:1"));
    assertThatThrownBy(() -> s.add("a")).hasMessage("client 'a' is already in the sorter");
    assertThatThrownBy(() -> s.remove("b")).hasMessage("no client 'b' in the sorter");
    assertThatThrownBy(() -> s.allocated("b", r("cpus:1")))
        .hasMessage("no client 'b' in the sorter");
    assertThatThrownBy(() -> s.unallocated("a", r("cpus:2")))
        .hasMessage(
            "client 'a' does not hold what it gives back: cannot subtract 'cpus:2' from 'cpus:1':"
                + " not enough 'cpus' (1 < 2)");
    for (String bad : List.of("", "a//b", "/a", "a/", "a/./b", "..")) {
      assertThatThrownBy(() -> s.add(bad)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void sortListsEachActiveClientOnceWhateverTheHistory() {
    for (long seed = 0; seed < 300; seed++) {
      Random rnd = new Random(seed);
      DrfSorter s = sorter("cpus:100;mem:1000");
      List<String> names = List.of("a", "a/b", "a/b/c", "a/d", "e", "e/f", "g");
      List<String> in = new ArrayList<>();
      for (int step = 0; step < 60; step++) {
        String name = names.get(rnd.nextInt(names.size()));
        switch (rnd.nextInt(5)) {
          case 0 -> {
            if (!s.contains(name)) {
              s.add(name);
              in.add(name);
            }
          }
          case 1 -> {
            if (s.contains(name)) {
              s.remove(name);
              in.remove(name);
            }
          }
          case 2 -> {
            if (s.contains(name)) {
              s.allocated(name, r("cpus:" + rnd.nextInt(5) + ";mem:" + rnd.nextInt(50)));
            }
          }
          case 3 -> {
            if (s.contains(name)) {
              if (rnd.nextBoolean()) {
                s.deactivate(name);
              } else {
                s.activate(name);
              }
            }
          }
          default -> s.updateWeight(name, 0.5 + rnd.nextInt(4));
        }
        List<String> active = in.stream().filter(s::isActive).sorted().toList();
        assertThat(s.sort()).as("seed " + seed).containsExactlyInAnyOrderElementsOf(active);
      }
    }
  }
}
