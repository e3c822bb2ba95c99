package io.kmesos.master.server;

import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.Operation;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A framework store for tests of the server alone: keeps what it is asked to store, in order, and
 * can be told to fail (as a registrar does once another master fenced it).
 */
final class RecordingFrameworkStore implements FrameworkStore {
  final List<Framework> recovered;
  final List<Operation> stored = new CopyOnWriteArrayList<>();
  final List<String> failures = new CopyOnWriteArrayList<>();
  volatile boolean failing;

  RecordingFrameworkStore() {
    this(List.of());
  }

  RecordingFrameworkStore(List<Framework> recovered) {
    this.recovered = new ArrayList<>(recovered);
  }

  @Override
  public List<Framework> frameworks() {
    return recovered;
  }

  @Override
  public void store(Operation operation) throws Exception {
    if (failing) {
      throw new IllegalStateException("superseded: another writer was elected");
    }
    stored.add(operation);
  }

  @Override
  public void failed(String why) {
    failures.add(why);
  }
}
