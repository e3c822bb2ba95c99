package io.kmesos.controller.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class QuotaTreeTest {
  @Test
  void aChildMayNotBeGuaranteedMoreThanItsParent() {
    var v =
        QuotaTree.check("eng/frontend", Map.of("cpus", 500.0), Map.of("eng", Map.of("cpus", 40.0)));
    assertThat(v.reason()).isEqualTo("ExceedsParentGuarantees");
    assertThat(v.message())
        .startsWith(
            "spec.guarantees: role eng/frontend would be guaranteed more than its parent "
                + "role eng guarantees (cpus 40): cpus 500 > 40");
    assertThat(
            QuotaTree.check(
                "eng/frontend", Map.of("cpus", 40.0), Map.of("eng", Map.of("cpus", 40.0))))
        .isNull();
  }

  @Test
  void aChildOfARoleWithoutQuotaMayBeGuaranteedNothing() {
    assertThat(QuotaTree.check("eng/frontend", Map.of("cpus", 1.0), Map.of()).message())
        .contains("its parent role eng guarantees (nothing: it has no quota)");
    assertThat(QuotaTree.check("eng/frontend", Map.of(), Map.of())).isNull();
    // Mesos's tree has every path component: a/b without quota guarantees nothing to a/b/c.
    assertThat(
            QuotaTree.check("a/b/c", Map.of("cpus", 1.0), Map.of("a", Map.of("cpus", 10.0)))
                .reason())
        .isEqualTo("ExceedsParentGuarantees");
  }

  @Test
  void siblingsShareTheirParentsGuarantees() {
    var held =
        Map.of("eng", Map.of("cpus", 40.0, "mem", 1024.0), "eng/backend", Map.of("cpus", 30.0));
    var v = QuotaTree.check("eng/frontend", Map.of("cpus", 20.0), held);
    assertThat(v.message())
        .contains("role eng/frontend with its sibling roles (eng/backend)")
        .contains("cpus 50 > 40");
    assertThat(QuotaTree.check("eng/frontend", Map.of("cpus", 10.0, "mem", 1024.0), held)).isNull();
    // Thousandths, as Mesos compares: 0.1 + 0.2 fits in 0.3.
    assertThat(
            QuotaTree.check(
                "x/b",
                Map.of("cpus", 0.2),
                Map.of("x", Map.of("cpus", 0.3), "x/a", Map.of("cpus", 0.1))))
        .isNull();
  }

  @Test
  void aParentMayNotGoBelowItsChildrenNorLoseItsQuotaUnderThem() {
    var held = Map.of("eng", Map.of("cpus", 40.0), "eng/frontend", Map.of("cpus", 30.0));
    assertThat(QuotaTree.check("eng", Map.of("cpus", 20.0), held).reason())
        .isEqualTo("BelowChildrenGuarantees");
    assertThat(QuotaTree.check("eng", null, held).message())
        .startsWith(
            "role eng cannot lose its quota while its child roles (eng/frontend) are guaranteed something");
    assertThat(
            QuotaTree.check(
                "eng", null, Map.of("eng", Map.of("cpus", 40.0), "eng/frontend", Map.of())))
        .isNull();
    assertThat(QuotaTree.check("eng/frontend", null, held)).isNull();
  }
}
