package io.kmesos.api.resources;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kmesos.api.resources.Resources.Range;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Resources: Mesos's fixed-point scalars, ranges, the parse syntax and randomized properties. */
class ResourcesTest {
  static Resources r(String text) {
    return Resources.parse(text);
  }

  // ---- Scalars ----

  @Test
  void scalarsAreFixedPointSoTenthsAddUpExactly() {
    assertThat(0.1 + 0.2).isNotEqualTo(0.3); // what doubles would do
    assertThat(r("cpus:0.1").plus(r("cpus:0.2"))).isEqualTo(r("cpus:0.3"));
    assertThat(Resources.scalar("cpus", 0.1).plus(Resources.scalar("cpus", 0.2)))
        .isEqualTo(Resources.scalar("cpus", 0.3));
    assertThat(r("cpus:0.3").minus(r("cpus:0.1")).minus(r("cpus:0.2")).isEmpty()).isTrue();
    assertThat(r("cpus:0.3").thousandths("cpus")).isEqualTo(300);
    assertThat(r("cpus:0.3").scalar("cpus")).isEqualTo(0.3);
  }

  @Test
  void scalarsRoundToThousandthsHalfUp() {
    assertThat(r("cpus:0.0004")).isEqualTo(Resources.EMPTY);
    assertThat(r("cpus:0.0005")).isEqualTo(r("cpus:0.001"));
    assertThat(r("mem:1.23456")).isEqualTo(r("mem:1.235"));
    assertThat(Resources.scalar("mem", 1.2344)).isEqualTo(r("mem:1.234"));
    assertThat(r("disk:1e3")).isEqualTo(r("disk:1000"));
  }

  @Test
  void zeroScalarsAreAbsent() {
    assertThat(r("cpus:0;mem:0").isEmpty()).isTrue();
    assertThat(r("cpus:1;mem:2").minus(r("cpus:1")).scalarNames()).containsExactly("mem");
    assertThat(Resources.scalar("gpus", 0)).isSameAs(Resources.EMPTY);
  }

  @Test
  void anyNameIsAScalar() {
    Resources r = r("cpus:1;mem:128;disk:1024;gpus:2;vendor.com/fpga:3");
    assertThat(r.scalarNames()).containsExactly("cpus", "disk", "gpus", "mem", "vendor.com/fpga");
    assertThat(r.scalar("vendor.com/fpga")).isEqualTo(3);
    assertThat(r.scalar("absent")).isZero();
  }

  @Test
  void subtractingMoreThanIsThereIsRefusedNamingTheResource() {
    assertThatThrownBy(() -> r("cpus:1;mem:128").minus(r("cpus:2")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cannot subtract 'cpus:2' from 'cpus:1;mem:128': not enough 'cpus' (1 < 2)");
    assertThatThrownBy(() -> r("cpus:1").minus(r("gpus:0.5")))
        .hasMessageContaining("not enough 'gpus' (0 < 0.5)");
  }

  @Test
  void overflowIsRefused() {
    Resources big = Resources.ofThousandths("mem", Long.MAX_VALUE);
    assertThatThrownBy(() -> big.plus(r("mem:0.001")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'mem' overflows");
    assertThatThrownBy(() -> r("mem:1e20")).hasMessageContaining("too large");
  }

  @Test
  void factoriesRefuseBadInput() {
    assertThatThrownBy(() -> Resources.scalar("cpus", -1)).hasMessageContaining("non-negative");
    assertThatThrownBy(() -> Resources.scalar("cpus", Double.NaN))
        .hasMessageContaining("non-negative");
    assertThatThrownBy(() -> Resources.scalar("a b", 1)).hasMessageContaining("resource name");
    assertThatThrownBy(() -> new Range(5, 4)).hasMessageContaining("invalid range 5-4");
    assertThatThrownBy(() -> new Range(-1, 4)).hasMessageContaining("invalid range");
  }

  // ---- Ranges ----

  @Test
  void rangesAreMergedWhenTheyOverlapOrTouch() {
    assertThat(r("ports:[1-2,3-4]").ranges("ports")).containsExactly(new Range(1, 4));
    assertThat(r("ports:[10-20,5-12,30-30,22-25]").ranges("ports"))
        .containsExactly(new Range(5, 20), new Range(22, 25), new Range(30, 30));
    assertThat(r("ports:[1-5]").plus(r("ports:[6-6]"))).isEqualTo(r("ports:[1-6]"));
    assertThat(r("ports:[1-5];ports:[8-9]")).isEqualTo(r("ports:[8-9,1-5]"));
    assertThat(r("ports:[]").isEmpty()).isTrue();
  }

  @Test
  void subtractingFromTheMiddleSplitsARange() {
    assertThat(r("ports:[31000-31010]").minus(r("ports:[31003-31004]")))
        .isEqualTo(r("ports:[31000-31002,31005-31010]"));
    assertThat(r("ports:[1-10]").minus(r("ports:[1-1,10-10]"))).isEqualTo(r("ports:[2-9]"));
    assertThat(r("ports:[1-10,20-30]").minus(r("ports:[5-10,20-25]")))
        .isEqualTo(r("ports:[1-4,26-30]"));
    assertThat(r("ports:[1-10]").minus(r("ports:[1-10]")).isEmpty()).isTrue();
    Resources max = Resources.ranges("ports", new Range(Long.MAX_VALUE - 2, Long.MAX_VALUE));
    assertThat(max.minus(Resources.ranges("ports", new Range(Long.MAX_VALUE, Long.MAX_VALUE))))
        .isEqualTo(Resources.ranges("ports", new Range(Long.MAX_VALUE - 2, Long.MAX_VALUE - 1)));
  }

  @Test
  void rangesNotHeldCannotBeSubtracted() {
    assertThatThrownBy(() -> r("ports:[1-5]").minus(r("ports:[4-7]")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cannot subtract 'ports:[4-7]' from 'ports:[1-5]': 'ports' lacks [6-7]");
    assertThat(r("ports:[1-5,7-9]").contains(r("ports:[2-3,8-8]"))).isTrue();
    assertThat(r("ports:[1-5,7-9]").contains(r("ports:[5-7]"))).isFalse();
  }

  @Test
  void aNameIsEitherScalarOrRanges() {
    assertThatThrownBy(() -> r("ports:[1-2]").plus(r("ports:3")))
        .hasMessageContaining("'ports' is both ranges and a scalar");
    assertThat(r("ports:[1-2]").contains(r("ports:1"))).isFalse();
  }

  // ---- contains / isEmpty ----

  @Test
  void containsComparesEveryResource() {
    Resources agent = r("cpus:4;mem:4096;ports:[31000-32000]");
    assertThat(agent.contains(r("cpus:4;mem:4096"))).isTrue();
    assertThat(agent.contains(r("cpus:4.001"))).isFalse();
    assertThat(agent.contains(r("gpus:1"))).isFalse();
    assertThat(agent.contains(r("cpus:1;ports:[31000-31000]"))).isTrue();
    assertThat(agent.contains(Resources.EMPTY)).isTrue();
    assertThat(Resources.EMPTY.contains(agent)).isFalse();
    assertThat(Resources.EMPTY.isEmpty()).isTrue();
    assertThat(agent.isEmpty()).isFalse();
  }

  @Test
  void scalarsOnlyDropsRanges() {
    assertThat(r("cpus:1;ports:[1-2]").scalarsOnly()).isEqualTo(r("cpus:1"));
    assertThat(r("ports:[1-2]").scalarsOnly()).isSameAs(Resources.EMPTY);
  }

  // ---- Syntax ----

  @Test
  void toStringIsTheParseSyntaxWithSortedNames() {
    Resources r = r(" mem:128 ; cpus:0.5;ports:[31010-31010, 31000-31005];;gpus : 1 ");
    assertThat(r).hasToString("cpus:0.5;gpus:1;mem:128;ports:[31000-31005,31010-31010]");
    assertThat(r(r.toString())).isEqualTo(r);
    assertThat(Resources.EMPTY).hasToString("");
    assertThat(r("")).isSameAs(Resources.EMPTY);
    assertThat(r("cpus:1;cpus:0.5")).isEqualTo(r("cpus:1.5"));
    assertThat(r("mem:1000.000")).hasToString("mem:1000");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "cpus:abc;mem:128 | invalid resources 'cpus:abc;mem:128': 'cpus:abc': 'abc' is not a number",
        "cpus:1;mem | invalid resources 'cpus:1;mem': 'mem': expected name:value",
        "cpus:-1 | invalid resources 'cpus:-1': 'cpus:-1': '-1' is negative",
        ":1 | invalid resources ':1': ':1': missing resource name before ':'",
        "cpus: | invalid resources 'cpus:': 'cpus:': missing value after ':'",
        "cpus(web):1 | invalid resources 'cpus(web):1': 'cpus(web):1':"
            + " reservations (name(role):value) are not supported",
        "disk{a}:1 | invalid resources 'disk{a}:1': 'disk{a}:1':"
            + " resource name 'disk{a}' may hold only letters, digits, '_', '.', '-' and '/'",
        "s:{a,b} | invalid resources 's:{a,b}': 's:{a,b}': set values ({a,b}) are not supported",
        "ports:[1-2 | invalid resources 'ports:[1-2': 'ports:[1-2': ranges must end with ']'",
        "ports:[5-3] | invalid resources 'ports:[5-3]': 'ports:[5-3]': range '5-3' ends before it"
            + " begins",
        "ports:[5] | invalid resources 'ports:[5]': 'ports:[5]': '5' is not a range begin-end",
        "ports:[1-2,] | invalid resources 'ports:[1-2,]': 'ports:[1-2,]': '' is not a range"
            + " begin-end",
        "ports:[-1-2] | invalid resources 'ports:[-1-2]': 'ports:[-1-2]': '-1-2' is not a range"
            + " begin-end",
        "ports:[1-2];ports:3 | invalid resources 'ports:[1-2];ports:3': 'ports:3':"
            + " 'ports' is both ranges and a scalar",
      })
  void parseErrorsAreOneLineAndNameTheBadPart(String text, String message) {
    assertThatThrownBy(() -> Resources.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(message)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
  }

  // ---- Randomized properties (seeded: a failure names its seed and replays) ----

  static Resources random(Random rnd) {
    Resources r = Resources.EMPTY;
    String[] scalars = {"cpus", "mem", "disk", "gpus", "x.io/y"};
    for (String name : scalars) {
      if (rnd.nextInt(3) > 0) {
        r = r.plus(Resources.ofThousandths(name, rnd.nextInt(3) == 0 ? 1 : rnd.nextInt(5_000_000)));
      }
    }
    int n = rnd.nextInt(4);
    List<Range> ranges = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long begin = rnd.nextInt(200);
      ranges.add(new Range(begin, begin + rnd.nextInt(20)));
    }
    return r.plus(Resources.ranges("ports", ranges));
  }

  @Test
  void randomizedArithmeticProperties() {
    for (long seed = 0; seed < 2_000; seed++) {
      Random rnd = new Random(seed);
      Resources a = random(rnd);
      Resources b = random(rnd);
      Resources c = random(rnd);
      String at = "seed " + seed + ": a=" + a + " b=" + b + " c=" + c;

      Resources sum = a.plus(b);
      assertThat(sum).as(at).isEqualTo(b.plus(a));
      assertThat(sum.plus(c)).as(at).isEqualTo(a.plus(b.plus(c)));
      assertThat(sum.contains(a)).as(at).isTrue();
      assertThat(sum.contains(b)).as(at).isTrue();
      assertThat(a.plus(Resources.EMPTY)).as(at).isEqualTo(a);
      assertThat(a.minus(a).isEmpty()).as(at).isTrue();
      assertThat(Resources.parse(a.toString())).as(at).isEqualTo(a);
      assertThat(Resources.parse(a.toString()).hashCode()).as(at).isEqualTo(a.hashCode());

      // Scalars only: a + b - b == a (ranges overlapping is a union, not a multiset).
      Resources as = a.scalarsOnly();
      Resources bs = b.scalarsOnly();
      assertThat(as.plus(bs).minus(bs)).as(at).isEqualTo(as);
      assertThat(as.plus(bs).minus(as)).as(at).isEqualTo(bs);

      // Whatever is contained can be subtracted, and adding it back restores the whole.
      if (a.contains(b)) {
        Resources left = a.minus(b);
        assertThat(left.plus(b)).as(at).isEqualTo(a);
        assertThat(a.contains(left)).as(at).isTrue();
      } else {
        assertThatThrownBy(() -> a.minus(b)).as(at).isInstanceOf(IllegalArgumentException.class);
      }
      // Contained after adding anything; fixed point: what was added comes back out exactly.
      assertThat(sum.plus(c).contains(sum)).as(at).isTrue();
      assertThat(sum.plus(c).minus(c).contains(as)).as(at).isTrue();
    }
  }

  @Test
  void randomizedRangeSplitsAgreeWithSets() {
    for (long seed = 0; seed < 2_000; seed++) {
      Random rnd = new Random(seed);
      boolean[] inA = new boolean[64];
      boolean[] inB = new boolean[64];
      List<Range> ra = new ArrayList<>();
      List<Range> rb = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        int begin = rnd.nextInt(60);
        int end = begin + rnd.nextInt(4);
        ra.add(new Range(begin, end));
        for (int p = begin; p <= end; p++) {
          inA[p] = true;
        }
        int b2 = rnd.nextInt(60);
        int e2 = b2 + rnd.nextInt(4);
        rb.add(new Range(b2, e2));
        for (int p = b2; p <= e2; p++) {
          inB[p] = true;
        }
      }
      Resources a = Resources.ranges("ports", ra);
      Resources b = Resources.ranges("ports", rb);
      String at = "seed " + seed + ": a=" + a + " b=" + b;
      assertThat(points(a.plus(b))).as(at).isEqualTo(or(inA, inB));
      assertThat(points(a.plus(b).minus(b))).as(at).isEqualTo(andNot(or(inA, inB), inB));
      boolean bInA = true;
      for (int p = 0; p < 64; p++) {
        bInA &= !inB[p] || inA[p];
      }
      assertThat(a.contains(b)).as(at).isEqualTo(bInA);
      // Normal form: sorted, disjoint, not adjacent.
      List<Range> norm = a.plus(b).ranges("ports");
      for (int i = 1; i < norm.size(); i++) {
        assertThat(norm.get(i).begin()).as(at).isGreaterThan(norm.get(i - 1).end() + 1);
      }
    }
  }

  static boolean[] points(Resources r) {
    boolean[] p = new boolean[64];
    for (Range range : r.ranges("ports")) {
      for (long i = range.begin(); i <= range.end(); i++) {
        p[(int) i] = true;
      }
    }
    return p;
  }

  static boolean[] or(boolean[] a, boolean[] b) {
    boolean[] c = new boolean[a.length];
    for (int i = 0; i < a.length; i++) {
      c[i] = a[i] || b[i];
    }
    return c;
  }

  static boolean[] andNot(boolean[] a, boolean[] b) {
    boolean[] c = new boolean[a.length];
    for (int i = 0; i < a.length; i++) {
      c[i] = a[i] && !b[i];
    }
    return c;
  }
}
