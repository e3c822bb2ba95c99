package io.kmesos.master.server;

import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * Where the master records that an agent registered for the first time, became unreachable or came
 * back: the registry, through the controller's registrar, at most as fast as the agent removal rate
 * limit allows (Mesos rate-limits marking agents unreachable with {@code
 * --agent_removal_rate_limit}). The master acts on a change (tasks UNREACHABLE, or the agent taken
 * back) only once it is committed, so a later master sees what frameworks were told.
 */
public interface AgentStore {

  /**
   * Marks the admitted agent UNREACHABLE since {@code at}; completes once committed (after the rate
   * limit's wait), exceptionally if the registry refused or could not store it.
   */
  CompletableFuture<Void> markUnreachable(String agentId, Instant at);

  /**
   * Admits the unreachable agent again (it re-registers); completes once committed, exceptionally
   * if refused (for instance, it was declared gone meanwhile).
   */
  CompletableFuture<Void> markReachable(String agentId);

  /**
   * Records that an agent process registered under this admitted ID for the first time (so that a
   * later master expects it back after a failover); completes once committed, exceptionally if
   * refused. Not rate-limited: it happens once per agent.
   */
  CompletableFuture<Void> markRegistered(String agentId, Instant at);

  /** Records nothing and agrees at once: for a master without a registry (tests of the port). */
  AgentStore UNRECORDED =
      new AgentStore() {
        @Override
        public CompletableFuture<Void> markUnreachable(String agentId, Instant at) {
          return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> markReachable(String agentId) {
          return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> markRegistered(String agentId, Instant at) {
          return CompletableFuture.completedFuture(null);
        }
      };
}
