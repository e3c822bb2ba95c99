/**
 * The master's pure core: frameworks, agents, offers and tasks, with Mesos v1 semantics as the
 * contracts in {@code kmesos/v1}, {@code kmesos/scheduler/v1} and {@code kmesos/agent/v1} state
 * them. {@link io.kmesos.master.core.MasterCore} takes one input at a time (a scheduler call, an
 * agent's message, a tick of the clock) and returns {@link io.kmesos.master.core.Effects}: the
 * call's refusal if any, events for the frameworks' subscriptions, commands for the agents'
 * sessions, subscriptions to end, and the frameworks' records to store in the registry first. It
 * has no threads, clocks or I/O, like the replicated log's core ({@code io.kmesos.replica.core});
 * the shell (gRPC servers, timers, the registry) only moves messages. Fair sharing is the
 * allocator's ({@code io.kmesos.master.allocator}).
 */
package io.kmesos.master.core;
