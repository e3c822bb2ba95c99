package io.kmesos.registry;

import com.google.protobuf.Message;
import java.util.Collections;
import java.util.HashSet;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;

/**
 * Changes to the registry not yet stored: puts and deletions over a base (the committed registry,
 * or an enclosing transaction). An operation works in a transaction of its own, merged into its
 * batch's only if it succeeds, so a failed operation leaves nothing behind.
 */
final class Transaction implements Entries {
  private final Entries base;
  private final TreeMap<String, Message> puts = new TreeMap<>();
  private final Set<String> deletes = new HashSet<>();

  Transaction(Entries base) {
    this.base = base;
  }

  @Override
  public Message get(String name) {
    if (deletes.contains(name)) {
      return null;
    }
    Message m = puts.get(name);
    return m != null ? m : base.get(name);
  }

  @Override
  public NavigableMap<String, Message> withPrefix(String prefix) {
    TreeMap<String, Message> out = new TreeMap<>(base.withPrefix(prefix));
    out.keySet().removeAll(deletes);
    out.putAll(puts.subMap(prefix, true, Names.after(prefix), false));
    return out;
  }

  void put(String name, Message value) {
    deletes.remove(name);
    puts.put(name, value);
  }

  void delete(String name) {
    puts.remove(name);
    deletes.add(name);
  }

  boolean isEmpty() {
    return puts.isEmpty() && deletes.isEmpty();
  }

  /** Applies this transaction's changes to the enclosing one. */
  void mergeInto(Transaction outer) {
    deletes.forEach(outer::delete);
    puts.forEach(outer::put);
  }

  Map<String, Message> puts() {
    return Collections.unmodifiableMap(puts);
  }

  Set<String> deletes() {
    return Collections.unmodifiableSet(deletes);
  }
}
