package io.kmesos.registry;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import io.kmesos.replica.state.State;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The registry as State variables, one per entry ({@link Names}): a batch stores only the entries
 * it changed, so its cost does not depend on the registry's size.
 */
final class StateStorage implements Storage {
  private final State state;

  StateStorage(State state) {
    this.state = state;
  }

  @Override
  public RegistryContents recover() {
    return RegistryContents.of(state.all(), state.sequence());
  }

  @Override
  public CompletableFuture<Void> store(
      RegistryContents before, Transaction changes, List<Any> causes, long version) {
    List<State.Variable> stores = new ArrayList<>();
    List<State.Variable> expunges = new ArrayList<>();
    for (Map.Entry<String, Message> e : changes.puts().entrySet()) {
      stores.add(state.fetch(e.getKey()).with(Any.pack(e.getValue())));
    }
    for (String name : changes.deletes()) {
      State.Variable v = state.fetch(name);
      if (v.exists()) {
        expunges.add(v);
      }
    }
    return state
        .apply(new State.Batch(stores, expunges, causes))
        .thenAccept(
            stored -> {
              if (!stored) {
                throw new IllegalStateException(
                    "the registry changed under the registrar (a State version conflict)");
              }
            });
  }

  @Override
  public long appendedBytes() {
    return state.appendedBytes();
  }

  @Override
  public String recoveredSummary() {
    State.Recovered r = state.recovered();
    return "positions "
        + r.begin()
        + ".."
        + r.ending()
        + ", snapshot as of change "
        + r.snapshotAsOf()
        + " + "
        + r.changesApplied()
        + " changes ("
        + r.changesSkipped()
        + " skipped), "
        + r.bytesRead()
        + " bytes";
  }

  @Override
  public long recoveryMillis() {
    return state.recovered().millis();
  }

  @Override
  public void close() {
    state.close();
  }
}
