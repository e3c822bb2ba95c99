/**
 * The replicated log's protocol core: pure, deterministic state machines with no threads, clocks,
 * sockets or disk. Each takes one input at a time (a message, a client call, a tick) and returns
 * {@link io.kmesos.replica.core.Effects}: what to persist, then what to send. A shell runs them for
 * real (gRPC, RocksDB, timers) and the simulation runs them against a seeded faulty network.
 *
 * <ul>
 *   <li>{@link io.kmesos.replica.core.ReplicaCore}: a replica (acceptor and learner).
 *   <li>{@link io.kmesos.replica.core.CatchUp}: a voting replica fills its holes with learned values.
 *   <li>{@link io.kmesos.replica.core.Recovery}: a replica that lost its data copies a quorum's
 *       state before it votes again.
 *   <li>{@link io.kmesos.replica.core.Coordinator}: the writer (election, hole filling, append).
 * </ul>
 */
package io.kmesos.replica.core;
