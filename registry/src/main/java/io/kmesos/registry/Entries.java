package io.kmesos.registry;

import com.google.protobuf.Message;
import java.util.NavigableMap;

/** Registry entries by variable name ({@link Names}), as operations read them. */
public interface Entries {
  /** The entry stored under {@code name}, or null. */
  Message get(String name);

  /**
   * Every entry whose name starts with {@code prefix}, in name order (a copy or a read-only view).
   */
  NavigableMap<String, Message> withPrefix(String prefix);

  @SuppressWarnings("unchecked")
  default <T extends Message> T get(String name, Class<T> type) {
    Message m = get(name);
    return type.isInstance(m) ? (T) m : null;
  }
}
