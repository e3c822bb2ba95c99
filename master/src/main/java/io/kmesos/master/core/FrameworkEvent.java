package io.kmesos.master.core;

import io.kmesos.api.scheduler.v1.Event;
import java.util.Objects;

/**
 * An event for one subscription of a framework: the shell writes {@code event} to the stream named
 * {@code streamId}, if it is still open (a stream that broke meanwhile drops it, as Mesos drops a
 * message to a disconnected framework). An {@link Event.KindCase#ERROR} event is the last one on
 * its stream: the core also lists the stream in {@link Effects#endedSubscriptions()}.
 */
public record FrameworkEvent(String frameworkId, String streamId, Event event) {
  public FrameworkEvent {
    Objects.requireNonNull(frameworkId, "frameworkId");
    Objects.requireNonNull(streamId, "streamId");
    Objects.requireNonNull(event, "event");
  }
}
