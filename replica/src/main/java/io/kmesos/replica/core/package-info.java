/**
 * The replicated log's protocol core: pure, deterministic state machines with no threads, clocks or
 * sockets, which write nothing themselves. Each takes one input at a time (a message, a client
 * call, a tick) and returns {@link io.kmesos.replica.core.Effects}: what to persist, then what to
 * send, then what happened ({@link io.kmesos.replica.core.Event}s, of which the {@link
 * io.kmesos.replica.core.Event.Transition}s are logged by the shells). A replica's core reads its
 * storage ({@link io.kmesos.replica.core.ReplicaStorage}), at start and to answer fetches. A shell
 * runs the cores for real (gRPC, RocksDB, timers) and the simulation runs them against a seeded
 * faulty network.
 *
 * <ul>
 *   <li>{@link io.kmesos.replica.core.ReplicaCore}: a replica (acceptor and learner).
 *   <li>{@link io.kmesos.replica.core.CatchUp}: a voting replica fills its holes with learned
 *       values.
 *   <li>{@link io.kmesos.replica.core.Recovery}: a replica that lost its data copies a quorum's
 *       state before it votes again.
 *   <li>{@link io.kmesos.replica.core.Coordinator}: the writer, an {@link
 *       io.kmesos.replica.core.Election} (promises, then the learned values it must keep) followed
 *       by a {@link io.kmesos.replica.core.WritePipeline} (the fill, then pipelined appends).
 * </ul>
 */
package io.kmesos.replica.core;
