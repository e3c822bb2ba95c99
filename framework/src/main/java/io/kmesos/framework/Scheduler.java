package io.kmesos.framework;

import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskStatus;
import java.util.List;

/**
 * What a framework is told by its {@link FrameworkClient}, as Mesos's {@code Scheduler} callbacks.
 * Every method is called on one thread (the client's event thread), one at a time, in the order the
 * events arrived; a method may call the client (its calls do not block). A method that throws is
 * logged and the next event still comes. Every method has an empty default, so a framework
 * implements what it needs.
 */
public interface Scheduler {
  /**
   * A subscription began: the first, or a new one after the connection broke (then {@code
   * frameworkId} is the same and {@code resubscribed} is true). The client has sent an implicit
   * Reconcile right after; the answers arrive as {@link #update}s.
   */
  default void subscribed(
      FrameworkClient client, String frameworkId, MasterInfo master, boolean resubscribed) {}

  default void offers(FrameworkClient client, List<Offer> offers) {}

  /** An offer is gone; its resources are no longer the framework's. */
  default void rescind(FrameworkClient client, String offerId) {}

  /**
   * A task status update. With automatic acknowledgements (the default), the client acknowledges it
   * after this method returns, if it carries a uuid; otherwise call {@link
   * FrameworkClient#acknowledge}.
   */
  default void update(FrameworkClient client, TaskStatus status) {}

  /** An agent, or what ran tasks on it, is gone (informational, not reliably delivered). */
  default void failure(FrameworkClient client, Event.Failure failure) {}

  /**
   * The subscription ended for good (the master's Error event: torn down, another scheduler took
   * over) or the master refused the framework at subscription (an ID of another principal or torn
   * down, an invalid FrameworkInfo). The client has stopped; it will not reconnect.
   */
  default void error(FrameworkClient client, String message) {}

  /**
   * The connection to the master broke, or it stayed silent for longer than the heartbeat allows.
   * The client subscribes again by itself, with the same framework ID; calls fail with {@link
   * CallRefusedException} until {@link #subscribed}.
   */
  default void disconnected(FrameworkClient client, String reason) {}
}
