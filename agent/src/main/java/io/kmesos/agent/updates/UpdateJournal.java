package io.kmesos.agent.updates;

import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskStatus;
import java.io.IOException;

/**
 * Where {@link StatusUpdateQueues} makes updates and acknowledgements durable (the agent's
 * checkpoints, for frameworks with {@code checkpoint}). The queues call it under their lock and in
 * the order recovery relies on: an update is journaled before it is queued (so before it is sent,
 * and before its producer hears it was taken), an acknowledgement before the task's next update is
 * sent. A call returns once the record is durable; an exception means it is not, and the agent
 * cannot keep its promises any more (see {@link StatusUpdateQueues}).
 */
public interface UpdateJournal {
  void updated(FrameworkInfo framework, TaskStatus update) throws IOException;

  /**
   * The framework acknowledged {@code acked}, the head of its task's queue.
   *
   * @param last whether it was the task's last update (terminal, nothing queued behind it): the
   *     task is done with
   */
  void acknowledged(FrameworkInfo framework, TaskStatus acked, boolean last) throws IOException;

  /** The framework was shut down: its tasks' updates will never be acknowledged. */
  void dropped(String frameworkId) throws IOException;

  /** Journals nothing: updates live in memory only. */
  UpdateJournal NONE =
      new UpdateJournal() {
        @Override
        public void updated(FrameworkInfo framework, TaskStatus update) {}

        @Override
        public void acknowledged(FrameworkInfo framework, TaskStatus acked, boolean last) {}

        @Override
        public void dropped(String frameworkId) {}
      };
}
