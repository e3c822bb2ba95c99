package io.kmesos.framework.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.operator.v1.GetStateRequest;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.operator.v1.OperatorGrpc;
import io.kmesos.framework.BearerToken;
import io.kmesos.framework.LeaderHint;
import io.kmesos.framework.TestTls;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** kmesos-state against a fake Operator: it follows a standby's hint and shows its token. */
class StateCommandTest {
  @TempDir Path dir;

  final List<String> tokens = new CopyOnWriteArrayList<>();

  Server operator(TestTls tls, String leaderHint) throws Exception {
    ServerInterceptor recordToken =
        new ServerInterceptor() {
          @Override
          public <Q, A> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
            tokens.add(String.valueOf(headers.get(BearerToken.AUTHORIZATION)));
            return next.startCall(call, headers);
          }
        };
    OperatorGrpc.OperatorImplBase service =
        new OperatorGrpc.OperatorImplBase() {
          @Override
          public void getState(GetStateRequest request, StreamObserver<GetStateResponse> out) {
            if (leaderHint != null) {
              Metadata trailers = new Metadata();
              trailers.put(LeaderHint.KEY, leaderHint);
              out.onError(
                  Status.UNAVAILABLE
                      .withDescription("not the leading master; the leader is " + leaderHint)
                      .asRuntimeException(trailers));
              return;
            }
            out.onNext(StateTablesTest.STATE);
            out.onCompleted();
          }
        };
    return Grpc.newServerBuilderForPort(
            0,
            TlsServerCredentials.newBuilder()
                .keyManager(tls.cert.toFile(), tls.key.toFile())
                .clientAuth(TlsServerCredentials.ClientAuth.NONE)
                .build())
        .addService(ServerInterceptors.intercept(service, recordToken))
        .build()
        .start();
  }

  @Test
  void followsTheLeaderHintAndPrintsTablesOrYaml() throws Exception {
    TestTls tls = new TestTls(dir);
    Path token = Files.writeString(dir.resolve("token"), "operator-token\n");
    Server leader = operator(tls, null);
    Server standby = operator(tls, "127.0.0.1:" + leader.getPort());
    try {
      for (String format : new String[] {"table", "yaml"}) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl =
            OneLineErrors.commandLine(new StateCommand(), Map.<String, String>of()::get);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit =
            cl.execute(
                "--master",
                "127.0.0.1:" + standby.getPort(),
                "--tls-dir",
                dir.toString(),
                "--token-file",
                token.toString(),
                "-o",
                format);
        assertThat(err.toString()).isEmpty();
        assertThat(exit).isZero();
        if (format.equals("table")) {
          assertThat(out.toString()).isEqualTo(StateTables.format(StateTablesTest.STATE));
        } else {
          assertThat(out.toString()).contains("taskId: web-0").contains("hostname: node-1");
        }
      }
      assertThat(tokens).containsOnly("Bearer operator-token");
    } finally {
      leader.shutdownNow();
      standby.shutdownNow();
      tls.trust.close();
    }
  }

  @Test
  void withoutTokenOrAdminCertificateItSaysSo() throws Exception {
    new TestTls(dir).trust.close();
    StringWriter err = new StringWriter();
    CommandLine cl = OneLineErrors.commandLine(new StateCommand(), Map.<String, String>of()::get);
    cl.setErr(new PrintWriter(err, true));
    int exit =
        cl.execute(
            "--master",
            "127.0.0.1:1",
            "--tls-dir",
            dir.toString(),
            "--token-file",
            dir.resolve("none").toString());
    assertThat(exit).isEqualTo(2);
    assertThat(err.toString())
        .contains("no credentials: the token file " + dir.resolve("none") + " is not readable");
  }
}
