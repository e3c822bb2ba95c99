package io.kmesos.master.core;

import io.kmesos.api.registry.v1.AddFramework;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.RemoveFramework;
import io.kmesos.api.registry.v1.UpdateFramework;
import java.util.Objects;

/**
 * A change to what the registry holds of a framework ({@code frameworks/{id}}), for the shell to
 * store with the registrar ({@link #operation()}) before it carries out the rest of the same {@link
 * Effects}. The core writes a framework before the framework learns its ID, and again only when the
 * record changes: its FrameworkInfo, or whether (since when) it is disconnected. Never on
 * heartbeats or ordinary calls.
 *
 * <p>Every record the core emits applies to the registry the core recovered, provided the shell
 * stored every earlier one in order: an {@link Add} of an ID the registry does not hold, an {@link
 * Update} or a {@link Remove} of one it holds.
 */
public sealed interface FrameworkRecord {
  String frameworkId();

  /** The registry operation that stores this change. */
  Operation operation();

  /** A framework the registry does not hold yet: it subscribed for the first time. */
  record Add(Framework framework) implements FrameworkRecord {
    public Add {
      Objects.requireNonNull(framework, "framework");
    }

    @Override
    public String frameworkId() {
      return framework.getInfo().getId();
    }

    @Override
    public Operation operation() {
      return Operation.newBuilder()
          .setAddFramework(AddFramework.newBuilder().setFramework(framework))
          .build();
    }
  }

  /**
   * The whole new record of a framework the registry holds: it subscribed again with other info,
   * its subscription ended ({@code disconnected_at} set), or it came back ({@code disconnected_at}
   * cleared).
   */
  record Update(Framework framework) implements FrameworkRecord {
    public Update {
      Objects.requireNonNull(framework, "framework");
    }

    @Override
    public String frameworkId() {
      return framework.getInfo().getId();
    }

    @Override
    public Operation operation() {
      return Operation.newBuilder()
          .setUpdateFramework(UpdateFramework.newBuilder().setFramework(framework))
          .build();
    }
  }

  /** The framework is gone for good (see {@link FrameworkRemoved}, in the same {@link Effects}). */
  record Remove(String frameworkId, FrameworkRemoved.Why why) implements FrameworkRecord {
    public Remove {
      Objects.requireNonNull(frameworkId, "frameworkId");
      Objects.requireNonNull(why, "why");
    }

    @Override
    public Operation operation() {
      return Operation.newBuilder()
          .setRemoveFramework(RemoveFramework.newBuilder().setId(frameworkId))
          .build();
    }
  }
}
