package io.kmesos.api.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/**
 * The one line a user reads for a failure: what went wrong and, for a server that could not be
 * reached, why (the cause chains are the ones grpc-java's Netty transport attaches; TransportTest
 * checks them against real connections).
 */
class FailuresTest {
  /**
   * grpc-java's own wrapping of a connection failure: UNAVAILABLE "io exception" with the cause.
   */
  static Throwable unavailable(Throwable cause) {
    return Status.UNAVAILABLE.withDescription("io exception").withCause(cause).asRuntimeException();
  }

  @Test
  void aRefusedConnectionSaysSo() {
    // Netty's AnnotatedConnectException is a ConnectException with the address in its message.
    Throwable refused = unavailable(new ConnectException("Connection refused: /127.0.0.1:7001"));
    assertThat(Failures.reason(refused)).isEqualTo("connection refused");
    assertThat(Failures.oneLine(new ExecutionException(refused))).isEqualTo("connection refused");
  }

  @Test
  void aServerThatDoesNotAnswerInTimeTimesOut() {
    Throwable late =
        Status.DEADLINE_EXCEEDED
            .withDescription(
                "CallOptions deadline exceeded after 1.998s. [closed=[], open=[[remote_addr=127.0.0.1/127.0.0.1:7001]]]")
            .asRuntimeException();
    assertThat(Failures.reason(late, Duration.ofSeconds(2)))
        .isEqualTo("timed out: no answer within 2 s");
    assertThat(Failures.reason(late)).isEqualTo("timed out: no answer in time");
    // A replica's own refusal of a request that waited too long is its words, not a time-out of
    // ours.
    Throwable refused =
        Status.DEADLINE_EXCEEDED
            .withDescription(
                "the request waited past its deadline in replica 0 and was not applied")
            .asRuntimeException();
    assertThat(Failures.reason(refused, Duration.ofSeconds(2)))
        .isEqualTo("the request waited past its deadline in replica 0 and was not applied");
  }

  @Test
  void aTlsHandshakeFailureNamesTls() {
    SSLHandshakeException handshake = new SSLHandshakeException("General OpenSslEngine problem");
    handshake.initCause(
        new Exception(
            "PKIX path building failed: unable to find valid certification path to requested target"));
    assertThat(Failures.reason(unavailable(handshake)))
        .isEqualTo(
            "TLS handshake failed: PKIX path building failed: unable to find valid certification path to requested target");
    // A plaintext server answering a TLS client: Netty's NotSslRecordException (matched by name:
    // api has no Netty).
    assertThat(
            Failures.reason(
                unavailable(new NotSslRecordException("not an SSL/TLS record: 0000120400"))))
        .isEqualTo("TLS handshake failed: the server does not speak TLS");
    // A TLS server that a plaintext client reaches closes the connection without a word.
    assertThat(
            Failures.reason(
                Status.UNAVAILABLE
                    .withDescription("Network closed for unknown reason")
                    .asRuntimeException()))
        .isEqualTo(
            "the connection was closed without an answer (a TLS port, or not a kmesos server?)");
  }

  static final class NotSslRecordException extends RuntimeException {
    NotSslRecordException(String message) {
      super(message);
    }
  }

  @Test
  void otherTransportFailuresAreNamed() {
    assertThat(Failures.reason(unavailable(new UnknownHostException("replica-9.kmesos"))))
        .isEqualTo("unknown host replica-9.kmesos");
    assertThat(Failures.reason(unavailable(new NoRouteToHostException("No route to host"))))
        .isEqualTo("no route to host");
    // The peer was reached and reset the connection (e.g. a TLS port read a plaintext preface).
    assertThat(Failures.reason(unavailable(new IOException("Connection reset by peer"))))
        .isEqualTo(
            "the connection was closed without an answer (a TLS port, or not a kmesos server?)");
    assertThat(
            Failures.reason(
                Status.UNAVAILABLE
                    .withDescription("replica 2 is shutting down")
                    .asRuntimeException()))
        .isEqualTo("replica 2 is shutting down");
    assertThat(
            Failures.reason(
                Status.INVALID_ARGUMENT
                    .withDescription("the envelope carries no message")
                    .asRuntimeException()))
        .isEqualTo("the envelope carries no message");
    assertThat(Failures.reason(Status.RESOURCE_EXHAUSTED.asRuntimeException()))
        .isEqualTo("resource exhausted");
  }

  @Test
  void aFailureIsItsMessageWithoutWrappersOrClassNames() {
    RuntimeException election =
        new IllegalStateException(
            "election failed: no quorum of voting replicas answered within 30 s");
    assertThat(Failures.oneLine(new ExecutionException(election))).isEqualTo(election.getMessage());
    assertThat(Failures.oneLine(new CompletionException(new ExecutionException(election))))
        .isEqualTo(election.getMessage());
    // Messages that embed another exception's toString() lose the class name.
    assertThat(
            Failures.oneLine(
                new IllegalStateException(
                    "an append failed: io.kmesos.replica.client.UnavailableException: "
                        + "no quorum of replicas accepted position 7")))
        .isEqualTo("an append failed: no quorum of replicas accepted position 7");
    assertThat(Failures.oneLine(new RuntimeException("first line\n  second line")))
        .isEqualTo("first line; second line");
    assertThat(Failures.oneLine(new NullPointerException()))
        .isEqualTo("unexpected failure (NullPointerException)");
    assertThat(Failures.oneLine(new RuntimeException(null, new IOException("disk full"))))
        .isEqualTo("disk full");
  }

  @Test
  void durationsReadAsPeopleWriteThem() {
    assertThat(Failures.human(Duration.ofSeconds(2))).isEqualTo("2 s");
    assertThat(Failures.human(Duration.ofMillis(500))).isEqualTo("500 ms");
    assertThat(Failures.human(Duration.ofMillis(1500))).isEqualTo("1.5 s");
    assertThat(Failures.human(Duration.ofMinutes(2))).isEqualTo("2 min");
  }
}
