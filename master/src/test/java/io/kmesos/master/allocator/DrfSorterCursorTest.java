package io.kmesos.master.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kmesos.api.resources.Resources;
import java.util.ArrayList;
import java.util.ConcurrentModificationException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the incremental {@link DrfSorter} adds: lazy cursors, and books that refuse overflow. */
class DrfSorterCursorTest {
  @Test
  void aCursorIsLazyAndRefusesToGoOnAfterAChangeUnlessDetached() {
    DrfSorter s = new DrfSorter();
    s.addTotal(Resources.parse("cpus:100"));
    for (String c : List.of("a", "b", "c", "d/e", "d/f")) {
      s.add(c);
    }
    DrfSorter.Cursor cursor = s.cursor();
    assertThat(cursor.next()).isEqualTo("a");
    s.allocated("a", Resources.parse("cpus:1"));
    assertThatThrownBy(cursor::hasNext)
        .isInstanceOf(ConcurrentModificationException.class)
        .hasMessageContaining("detach");

    DrfSorter.Cursor detached = s.cursor(); // b c d/e d/f a
    assertThat(detached.next()).isEqualTo("b");
    detached.detach();
    s.allocated("c", Resources.parse("cpus:5"));
    s.remove("d/e");
    s.add("0");
    List<String> rest = new ArrayList<>();
    detached.forEachRemaining(rest::add);
    assertThat(rest).containsExactly("c", "d/e", "d/f", "a"); // the order when it was made
    assertThat(s.sort()).containsExactly("0", "b", "d/f", "a", "c");
  }

  @Test
  void anOverflowIsRefusedNamingTheResourceAndChangesNothing() {
    DrfSorter s = new DrfSorter();
    s.addTotal(Resources.parse("cpus:100"));
    s.add("a/b");
    s.add("a/c");
    Resources huge = Resources.ofThousandths("cpus", Long.MAX_VALUE - 10);
    s.allocated("a/b", huge);
    List<String> before = s.sort();
    // a/c holds nothing, but its parent a would overflow.
    assertThatThrownBy(() -> s.allocated("a/c", Resources.parse("cpus:1")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("'cpus' overflows");
    assertThat(s.allocation("a/c").isEmpty()).isTrue();
    assertThat(s.sort()).isEqualTo(before);
    s.unallocated("a/b", huge);
    s.allocated("a/c", Resources.parse("cpus:1"));
    assertThat(s.sort()).containsExactly("a/b", "a/c");
  }
}
