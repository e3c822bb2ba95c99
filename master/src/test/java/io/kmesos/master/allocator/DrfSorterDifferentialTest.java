package io.kmesos.master.allocator;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.resources.Resources;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The incremental {@link DrfSorter} against {@link ReferenceDrfSorter} (a full sort of every level
 * after each change): the same calls must give the same order, read whole or lazily, after every
 * step of many random histories over a tree of role paths with virtual leaves, weights, ties,
 * inactive clients, pool changes and refused calls.
 */
class DrfSorterDifferentialTest {
  private static final List<String> PATHS = paths();

  private static List<String> paths() {
    List<String> out = new ArrayList<>();
    for (String a : List.of("a", "b", "c")) {
      out.add(a);
      for (String b : List.of("a", "b", "c")) {
        out.add(a + "/" + b);
        for (String c : List.of("a", "b")) {
          out.add(a + "/" + b + "/" + c);
        }
      }
    }
    return out;
  }

  /** Small whole amounts, so that equal shares (and equal counts) are common. */
  private static Resources someResources(Random rnd) {
    StringBuilder text = new StringBuilder("cpus:" + rnd.nextInt(4));
    if (rnd.nextBoolean()) {
      text.append(";mem:").append(rnd.nextInt(3) * 10);
    }
    if (rnd.nextInt(4) == 0) {
      text.append(";gpus:").append(rnd.nextInt(2));
    }
    if (rnd.nextInt(4) == 0) {
      int port = 1000 + rnd.nextInt(50);
      text.append(";ports:[").append(port).append('-').append(port + rnd.nextInt(3)).append(']');
    }
    return Resources.parse(text.toString());
  }

  /** Part (or all, or more) of what is held, scalar by scalar. */
  private static Resources partOf(Resources held, Random rnd) {
    Resources out = Resources.EMPTY;
    for (String name : held.scalarNames()) {
      long have = held.thousandths(name);
      long give = rnd.nextInt(8) == 0 ? have + 1000 : rnd.nextBoolean() ? have : have / 2;
      if (give > 0) {
        out = out.plus(Resources.ofThousandths(name, give));
      }
    }
    return out;
  }

  @Test
  void theIncrementalOrderIsTheFullSortAfterEveryStep() {
    for (long seed = 0; seed < 400; seed++) {
      run(seed, 150);
    }
  }

  @Test
  void longHistoriesToo() {
    for (long seed = 1000; seed < 1010; seed++) {
      run(seed, 3000);
    }
  }

  private static void run(long seed, int steps) {
    Random rnd = new Random(seed);
    Set<String> excluded = rnd.nextBoolean() ? Set.of("gpus") : Set.of();
    ReferenceDrfSorter ref = new ReferenceDrfSorter(excluded);
    DrfSorter sut = new DrfSorter(excluded);
    both(
        ref,
        sut,
        r -> r.addTotal(Resources.parse("cpus:40;mem:200;gpus:4")),
        s -> s.addTotal(Resources.parse("cpus:40;mem:200;gpus:4")));
    DrfSorter.Cursor detached = null;
    List<String> detachedExpected = null;
    for (int step = 0; step < steps; step++) {
      String where = "seed " + seed + " step " + step;
      String path = PATHS.get(rnd.nextInt(PATHS.size()));
      int op = rnd.nextInt(100);
      if (op < 14) {
        call(where, () -> ref.add(path), () -> sut.add(path));
      } else if (op < 22) {
        call(where, () -> ref.remove(path), () -> sut.remove(path));
      } else if (op < 50) {
        Resources res = someResources(rnd);
        call(where, () -> ref.allocated(path, res), () -> sut.allocated(path, res));
      } else if (op < 62) {
        Resources res = ref.contains(path) ? partOf(ref.allocation(path), rnd) : someResources(rnd);
        call(where, () -> ref.unallocated(path, res), () -> sut.unallocated(path, res));
      } else if (op < 70) {
        double weight = rnd.nextInt(10) == 0 ? -1 : 0.5 * (1 + rnd.nextInt(6));
        call(where, () -> ref.updateWeight(path, weight), () -> sut.updateWeight(path, weight));
      } else if (op < 77) {
        call(where, () -> ref.deactivate(path), () -> sut.deactivate(path));
      } else if (op < 84) {
        call(where, () -> ref.activate(path), () -> sut.activate(path));
      } else if (op < 88) {
        Resources res = someResources(rnd);
        call(where, () -> ref.addTotal(res), () -> sut.addTotal(res));
      } else if (op < 92) {
        Resources res = rnd.nextInt(5) == 0 ? someResources(rnd) : partOf(ref.total(), rnd);
        call(where, () -> ref.removeTotal(res), () -> sut.removeTotal(res));
      } else {
        // Read lazily, part of the way, before anything else reads: the cursor walks the sets.
        List<String> expected = ref.sort();
        DrfSorter.Cursor cursor = sut.cursor();
        int k = rnd.nextInt(expected.size() + 1);
        for (int i = 0; i < k; i++) {
          assertThat(cursor.next()).as(where + " lazy #" + i).isEqualTo(expected.get(i));
        }
        if (detached == null && rnd.nextBoolean()) {
          cursor.detach(); // what is left must survive the changes to come
          detached = cursor;
          detachedExpected = expected.subList(k, expected.size());
        } else if (rnd.nextBoolean()) {
          assertThat(cursor.hasNext()).isEqualTo(k < expected.size());
        }
      }
      if (detached != null && rnd.nextInt(10) == 0) {
        List<String> rest = new ArrayList<>();
        detached.forEachRemaining(rest::add);
        assertThat(rest).as(where + " detached").isEqualTo(detachedExpected);
        detached = null;
      }
      if (rnd.nextInt(3) > 0) {
        // Most steps: the whole order, read lazily first (sort() would cache the list).
        List<String> lazily = new ArrayList<>();
        sut.cursor().forEachRemaining(lazily::add);
        assertThat(lazily).as(where + " lazily").isEqualTo(ref.sort());
        assertThat(sut.sort()).as(where).isEqualTo(ref.sort());
        assertThat(sut.nodePaths()).as(where).isEqualTo(ref.nodePaths());
        assertThat(sut.count()).isEqualTo(ref.count());
        if (ref.contains(path)) {
          assertThat(sut.share(path)).as(where).isEqualTo(ref.share(path));
          assertThat(sut.allocation(path)).as(where).isEqualTo(ref.allocation(path));
          assertThat(sut.isActive(path)).as(where).isEqualTo(ref.isActive(path));
        }
        assertThat(sut.total()).isEqualTo(ref.total());
      }
    }
    assertThat(sut.sort()).isEqualTo(ref.sort());
  }

  private static void both(
      ReferenceDrfSorter ref,
      DrfSorter sut,
      Consumer<ReferenceDrfSorter> r,
      Consumer<DrfSorter> s) {
    r.accept(ref);
    s.accept(sut);
  }

  /** Both calls succeed, or both fail with the same message. */
  private static void call(String where, Runnable ref, Runnable sut) {
    String refError = errorOf(ref);
    String sutError = errorOf(sut);
    assertThat(sutError).as(where).isEqualTo(refError);
  }

  private static String errorOf(Runnable call) {
    try {
      call.run();
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }
}
