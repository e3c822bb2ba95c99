package io.kmesos.replica.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.Action;
import java.util.List;
import org.junit.jupiter.api.Test;

class PayloadBudgetTest {
  static Action sized(long position, int bytes) {
    return Action.newBuilder()
        .setPosition(position)
        .setPayload(ByteString.copyFrom(new byte[bytes]))
        .build();
  }

  static List<List<Long>> positions(List<List<Action>> groups) {
    return groups.stream().map(g -> g.stream().map(Action::getPosition).toList()).toList();
  }

  @Test
  void actionsShareAGroupWhileTheirPayloadFitsAndALargerOneGoesAlone() {
    List<Action> actions =
        List.of(sized(1, 4), sized(2, 6), sized(3, 1), sized(4, 25), sized(5, 0), sized(6, 10));
    assertThat(positions(PayloadBudget.pack(actions, 10)))
        .containsExactly(List.of(1L, 2L), List.of(3L), List.of(4L), List.of(5L, 6L));
  }

  @Test
  void theFirstActionAlwaysFitsAndNothingFitsAfterTheLimitIsReached() {
    PayloadBudget large = new PayloadBudget(10);
    assertThat(large.tryAdd(sized(1, 50))).as("first, whatever its size").isTrue();
    assertThat(large.tryAdd(sized(2, 0))).as("past the limit, not even an empty payload").isFalse();

    PayloadBudget small = new PayloadBudget(10);
    assertThat(small.tryAdd(sized(1, 4))).isTrue();
    assertThat(small.tryAdd(sized(2, 6))).as("exactly at the limit").isTrue();
    assertThat(small.tryAdd(sized(3, 1))).isFalse();
    assertThat(small.tryAdd(sized(4, 0)))
        .as("an empty payload fits while the limit is not passed")
        .isTrue();
    assertThat(PayloadBudget.pack(List.of(), 10)).isEmpty();
  }
}
