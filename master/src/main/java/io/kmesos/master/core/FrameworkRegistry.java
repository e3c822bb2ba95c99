package io.kmesos.master.core;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The frameworks the master knows, the subscriptions it ever opened, and the frameworks it removed.
 *
 * <p>Guarantees: a framework ID is in at most one of "known" and "removed", and once removed it
 * stays removed (it can never subscribe again); every stream ID names exactly one framework, for
 * ever, so a call can be told apart as another framework's (PERMISSION_DENIED) or an old one of its
 * own (FAILED_PRECONDITION); iteration is in framework ID order.
 */
final class FrameworkRegistry {
  private final TreeMap<String, FrameworkState> frameworks = new TreeMap<>();
  private final Map<String, String> streamOwners = new HashMap<>();
  private final Set<String> removed = new TreeSet<>();

  FrameworkState get(String frameworkId) {
    return frameworks.get(frameworkId);
  }

  boolean isRemoved(String frameworkId) {
    return removed.contains(frameworkId);
  }

  /** Every known framework, in ID order. */
  Collection<FrameworkState> all() {
    return Collections.unmodifiableCollection(frameworks.values());
  }

  /** A copy of {@link #all}, safe to iterate while removing. */
  List<FrameworkState> snapshot() {
    return new ArrayList<>(frameworks.values());
  }

  void add(FrameworkState framework) {
    if (frameworks.containsKey(framework.id) || removed.contains(framework.id)) {
      throw new IllegalStateException("framework '" + framework.id + "' is already known");
    }
    frameworks.put(framework.id, framework);
  }

  /** Opens a subscription: {@code streamId} becomes the framework's current one. */
  void subscribe(FrameworkState framework, String streamId) {
    Objects.requireNonNull(streamId, "streamId");
    if (streamOwners.putIfAbsent(streamId, framework.id) != null) {
      throw new IllegalStateException("stream ID '" + streamId + "' was handed out twice");
    }
    framework.streamId = streamId;
  }

  /** The framework a stream ID was handed to, or null if none. */
  String streamOwner(String streamId) {
    return streamOwners.get(streamId);
  }

  /** Forgets the framework for good. */
  void remove(String frameworkId) {
    if (frameworks.remove(frameworkId) != null) {
      removed.add(frameworkId);
    }
  }
}
