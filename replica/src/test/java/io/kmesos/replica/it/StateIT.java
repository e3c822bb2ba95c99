package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.StringValue;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.SupersededException;
import io.kmesos.replica.local.LocalReplicas;
import io.kmesos.replica.state.State;
import io.kmesos.replica.state.StateException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Versioned variables on a 3-replica log of separate JVMs: Mesos State semantics and fencing. */
class StateIT {
  @TempDir Path dir;
  LocalReplicas replicas;
  Log log;

  @BeforeEach
  void start() throws Exception {
    replicas = new LocalReplicas(dir, 3).startAll();
    replicas.initialize("state-it", Duration.ofSeconds(120));
    log = replicas.client();
  }

  @AfterEach
  void stop() throws Exception {
    if (log != null) {
      log.close();
    }
    if (replicas != null) {
      replicas.close(); // also when start() failed: no replica outlives its test
    }
  }

  static Any text(String s) {
    return Any.pack(StringValue.of(s));
  }

  static String text(State.Variable v) throws Exception {
    return v.value().unpack(StringValue.class).getValue();
  }

  static <T> T get(CompletableFuture<T> f) throws Exception {
    return f.get(120, TimeUnit.SECONDS);
  }

  @Test
  void storeSucceedsOnlyIfTheVariableDidNotChangeSinceItWasFetched() throws Exception {
    try (State state = State.open(log)) {
      State.Variable absent = state.fetch("config");
      assertThat(absent.exists()).isFalse();
      assertThat(absent.version()).isZero();

      assertThat(get(state.store(absent.with(text("v1"))))).isTrue();
      State.Variable v1 = state.fetch("config");
      assertThat(text(v1)).isEqualTo("v1");
      assertThat(v1.version()).isPositive();

      assertThat(get(state.store(absent.with(text("stale")))))
          .as("fetched before v1 was stored")
          .isFalse();
      assertThat(text(state.fetch("config"))).isEqualTo("v1");

      assertThat(get(state.store(v1.with(text("v2"))))).isTrue();
      assertThat(get(state.store(v1.with(text("v2 again"))))).isFalse();
      assertThat(state.names()).containsExactly("config");

      assertThat(get(state.expunge(v1))).as("v1 is no longer current").isFalse();
      assertThat(get(state.expunge(state.fetch("config")))).isTrue();
      assertThat(state.names()).isEmpty();
    }
  }

  @Test
  void aBatchChangesAllOfItsVariablesOrNone() throws Exception {
    try (State state = State.open(log)) {
      State.Variable a = state.fetch("a");
      assertThat(get(state.store(a.with(text("a1"))))).isTrue();
      State.Batch stale =
          new State.Batch(
              List.of(a.with(text("a2")), state.fetch("b").with(text("b1"))), List.of(), List.of());
      assertThat(get(state.apply(stale))).isFalse();
      assertThat(state.names()).containsExactly("a");

      State.Batch fresh =
          new State.Batch(
              List.of(state.fetch("b").with(text("b1")), state.fetch("c").with(text("c1"))),
              List.of(state.fetch("a")),
              List.of());
      assertThat(get(state.apply(fresh))).isTrue();
      assertThat(state.names()).containsExactly("b", "c");
    }
    try (State recovered = State.open(log)) {
      assertThat(recovered.names()).containsExactly("b", "c");
      assertThat(text(recovered.fetch("c"))).isEqualTo("c1");
      assertThat(recovered.fetch("b").version()).isEqualTo(recovered.fetch("c").version());
    }
  }

  @Test
  void aSupersededStateFailsEveryLaterCall() throws Exception {
    State first = State.open(log);
    assertThat(get(first.store(first.fetch("x").with(text("first"))))).isTrue();
    try (Log other = replicas.client();
        State second = State.open(other)) {
      assertThat(text(second.fetch("x"))).isEqualTo("first");
      assertThatThrownBy(() -> get(first.store(first.fetch("x").with(text("late")))))
          .isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(SupersededException.class);
      assertThatThrownBy(() -> first.fetch("x"))
          .isInstanceOf(StateException.class)
          .hasMessageContaining("superseded");
      assertThat(get(second.store(second.fetch("x").with(text("second"))))).isTrue();
    } finally {
      first.close();
    }
    try (State third = State.open(log)) {
      assertThat(text(third.fetch("x"))).isEqualTo("second");
    }
  }
}
