package io.kmesos.replica.server;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;

/** How every node of the log reaches a replica: one plaintext gRPC channel per replica address. */
public final class Transport {
  /**
   * The largest message a node of the log sends or accepts. Writers split their batches well below
   * it ({@code Coordinator.Config#maxBatchBytes}); it leaves room for a large single entry (a
   * registry snapshot) and for fetch answers of many entries.
   */
  public static final int MAX_MESSAGE_BYTES = 64 << 20;

  private Transport() {}

  /** Answers only enqueue work for a single-threaded loop: they run on the I/O thread, no hand-off. */
  public static ManagedChannel channel(String hostPort) {
    return NettyChannelBuilder.forTarget(hostPort).usePlaintext().directExecutor()
        .maxInboundMessageSize(MAX_MESSAGE_BYTES).build();
  }
}
