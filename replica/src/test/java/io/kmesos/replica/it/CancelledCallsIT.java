package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Writer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A caller that gives up while a replica is still writing its answer is expected (a deadline under
 * load, a writer that moved on): the replica's log must not fill with stack traces for it.
 */
class CancelledCallsIT extends LogProcessesTest {
  @Test
  void aCallerThatGivesUpWhileItsAnswerIsWrittenLeavesOneShortDebugLine() throws Exception {
    replicas = new ReplicaProcesses(dir, 1);
    replicas.jvmOptions.add("-DKMESOS_LOG_LEVEL=DEBUG"); // to see that the event did happen
    replicas.startAll();
    try (Log log = replicas.client()) {
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .until(
              () -> {
                log.initialize("cancel-it");
                return true;
              });
      try (Writer w =
          log.writer(
              Writer.Settings.DEFAULT.withAppendTimeout(
                  PATIENCE))) { // 1 MiB appends, a busy machine
        w.elect().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        for (int i = 0; i < 4; i++) {
          w.append(ByteString.copyFrom(new byte[1 << 20]))
              .get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        }
        await()
            .atMost(PATIENCE)
            .until(() -> log.reader().ending() >= 4); // learned: a reader may fetch them
      }
    }

    // A 4 MiB answer to a caller that reads none of it: HTTP/2 flow control holds most of it in the
    // replica until the caller gives up, as a caller past its deadline under load does.
    ManagedChannel channel = replicas.channel(0);
    try {
      CompletableFuture<Void> headers = new CompletableFuture<>();
      CompletableFuture<Status> closed = new CompletableFuture<>();
      ClientCall<Envelope, Envelope> call =
          channel.newCall(
              ReplicaGrpc.getCallMethod(),
              CallOptions.DEFAULT.withDeadlineAfter(PATIENCE.toSeconds(), TimeUnit.SECONDS));
      call.start(
          new ClientCall.Listener<>() {
            @Override
            public void onHeaders(Metadata metadata) {
              headers.complete(null);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              closed.complete(status);
            }
          },
          new Metadata());
      call.sendMessage(
          Envelope.newBuilder()
              .setFrom(1L << 33)
              .setTo(0)
              .setFetchRequest(
                  FetchRequest.newBuilder()
                      .setFrom(1)
                      .setTo(4)
                      .setLearnedOnly(true)
                      .setMaxActions(1000))
              .build());
      call.halfClose();
      // No call.request(): the answer is never read. Once the replica started answering, give up.
      headers.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      call.cancel("the caller gave up", null);
      assertThat(closed.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).getCode())
          .isEqualTo(Status.Code.CANCELLED);
    } finally {
      channel.shutdownNow();
    }

    // The replica noticed (either way it reports it), and said so in one short DEBUG line.
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                replicas.log(0).contains("before its answer was written")
                    || replicas.log(0).contains("Stream closed before write could take place"));
    assertThat(replicas.log(0))
        .doesNotContain("Stream closed before write could take place")
        .doesNotContain("Stream Error")
        .contains("a caller gave up on stream");
  }
}
