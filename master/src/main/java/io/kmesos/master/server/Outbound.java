package io.kmesos.master.server;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;

/**
 * The sending side of one server stream (a framework's subscription, an agent's session), written
 * by the event loop without ever blocking it: messages wait in a bounded queue that gRPC's flow
 * control drains ({@code onReady}). A reader too slow for {@code limit} queued messages loses its
 * stream (RESOURCE_EXHAUSTED), not the master its loop. Thread-safe: the loop writes, gRPC's
 * threads drain and cancel.
 */
final class Outbound<T> {
  private final ServerCallStreamObserver<T> call;
  private final int limit;
  private final String what;
  private final ArrayDeque<T> queue = new ArrayDeque<>();
  private Status closeWith;
  private boolean done;
  private Runnable onCancel = () -> {};

  Outbound(ServerCallStreamObserver<T> call, int limit, String what) {
    this.call = call;
    this.limit = limit;
    this.what = what;
    // Set while the call starts, as gRPC requires; with a cancel handler set, writes after a
    // cancellation are ignored instead of throwing.
    call.setOnReadyHandler(this::drain);
    call.setOnCancelHandler(this::cancelled);
  }

  /** Runs {@code r} (once, on a gRPC thread) when the client cancels or the connection breaks. */
  synchronized void onCancel(Runnable r) {
    this.onCancel = r;
  }

  /**
   * Queues {@code message}.
   *
   * @return false if the stream is closing or closed, or the queue was full: the stream then ends
   *     with RESOURCE_EXHAUSTED and the caller treats it as ended
   */
  synchronized boolean send(T message) {
    if (done || closeWith != null) {
      return false;
    }
    if (queue.size() >= limit) {
      queue.clear();
      closeWith =
          Status.RESOURCE_EXHAUSTED.withDescription(
              what
                  + " does not read its stream: "
                  + limit
                  + " messages are waiting; the stream ends (connect again and read faster)");
      finish();
      return false;
    }
    queue.add(message);
    drain();
    return true;
  }

  /**
   * Ends the stream: with OK after the queued messages are written, otherwise at once with {@code
   * status} (what is still queued is dropped).
   */
  synchronized void close(Status status) {
    if (done || closeWith != null) {
      return;
    }
    closeWith = status;
    if (!status.isOk()) {
      queue.clear();
    }
    drain();
  }

  synchronized boolean closed() {
    return done || closeWith != null;
  }

  private synchronized void drain() {
    while (!done && !queue.isEmpty() && call.isReady()) {
      try {
        call.onNext(queue.poll());
      } catch (RuntimeException e) {
        // The call ended meanwhile (cancelled): nothing more can be written.
        done = true;
        queue.clear();
        return;
      }
    }
    if (!done && closeWith != null && queue.isEmpty()) {
      finish();
    }
  }

  private void finish() {
    done = true;
    try {
      if (closeWith.isOk()) {
        call.onCompleted();
      } else {
        call.onError(closeWith.asRuntimeException());
      }
    } catch (RuntimeException e) {
      // Already cancelled by the client: nothing to tell it.
    }
  }

  private void cancelled() {
    Runnable r;
    synchronized (this) {
      done = true;
      queue.clear();
      r = onCancel;
    }
    r.run();
  }
}
