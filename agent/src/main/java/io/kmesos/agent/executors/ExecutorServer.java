package io.kmesos.agent.executors;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.executor.v1.Call;
import io.kmesos.api.executor.v1.Event;
import io.kmesos.api.executor.v1.ExecutorGrpc;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executor API ({@code kmesos.executor.v1.Executor}) on a Unix domain socket, {@code
 * <work-dir>/executor-api/agent.sock}, in a directory only the agent's user may enter (0700). No
 * TLS (nothing leaves the node); every call must carry its executor's token ({@code
 * kmesos-executor-token}): a missing or unknown one is UNAUTHENTICATED, a subscription naming
 * another executor than the token's PERMISSION_DENIED.
 */
public final class ExecutorServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorServer.class);

  /** The metadata key of an executor's token. */
  public static final Metadata.Key<String> TOKEN =
      Metadata.Key.of("kmesos-executor-token", Metadata.ASCII_STRING_MARSHALLER);

  private static final Context.Key<ExecutorRunner.Run> RUN = Context.key("kmesos-executor-run");

  /** sun_path holds 108 bytes, the terminating NUL included. */
  private static final int MAX_SOCKET_PATH = 107;

  private final Server server;
  private final EventLoopGroup group;
  private final Path socket;

  private ExecutorServer(Server server, EventLoopGroup group, Path socket) {
    this.server = server;
    this.group = group;
    this.socket = socket;
  }

  /** Where the socket of an agent with this work directory is. */
  public static Path socketPath(Path workDir) {
    return workDir.resolve("executor-api").resolve("agent.sock");
  }

  /** Listens on the work directory's socket (a stale one, of an agent before, is replaced). */
  public static ExecutorServer start(Path workDir, ExecutorRunner runner) throws IOException {
    Path socket = socketPath(workDir);
    if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
      throw new IllegalArgumentException(
          "--work-dir "
              + workDir
              + " is too long: the executor socket "
              + socket
              + " must fit in "
              + MAX_SOCKET_PATH
              + " bytes");
    }
    Path dir = socket.getParent();
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    Files.deleteIfExists(socket);
    EventLoopGroup group =
        new EpollEventLoopGroup(
            1,
            r -> {
              Thread t = new Thread(r, "executor-api");
              t.setDaemon(true);
              return t;
            });
    Server server;
    try {
      server =
          NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
              .channelType(EpollServerDomainSocketChannel.class)
              .bossEventLoopGroup(group)
              .workerEventLoopGroup(group)
              .addService(ServerInterceptors.intercept(new Service(runner), new TokenCheck(runner)))
              .build()
              .start();
    } catch (IOException | RuntimeException e) {
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
    runner.setEndpoint("unix:" + socket);
    LOG.info("the executor API listens on {}", socket);
    return new ExecutorServer(server, group, socket);
  }

  public Path socket() {
    return socket;
  }

  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  /** Every call: the token must name a live executor run. */
  private static final class TokenCheck implements ServerInterceptor {
    private final ExecutorRunner runner;

    TokenCheck(ExecutorRunner runner) {
      this.runner = runner;
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(
        ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
      Optional<ExecutorRunner.Run> run = runner.byToken(headers.get(TOKEN));
      if (run.isEmpty()) {
        LOG.warn("refused an executor API call without a valid kmesos-executor-token");
        call.close(
            Status.UNAUTHENTICATED.withDescription(
                "no valid kmesos-executor-token: an executor calls with the token the agent gave"
                    + " it in KMESOS_EXECUTOR_TOKEN"),
            new Metadata());
        return new ServerCall.Listener<>() {};
      }
      return Contexts.interceptCall(
          Context.current().withValue(RUN, run.get()), call, headers, next);
    }
  }

  private static final class Service extends ExecutorGrpc.ExecutorImplBase {
    private final ExecutorRunner runner;

    Service(ExecutorRunner runner) {
      this.runner = runner;
    }

    @Override
    public StreamObserver<Call> connect(StreamObserver<Event> events) {
      ExecutorRunner.Run run = RUN.get();
      return new StreamObserver<>() {
        private boolean subscribed;
        private boolean ended;

        @Override
        public void onNext(Call call) {
          if (ended) {
            return;
          }
          if (!call.getFrameworkId().equals(run.frameworkId())
              || !call.getExecutorId().equals(run.executorId())) {
            end(
                Status.PERMISSION_DENIED.withDescription(
                    "the token is not of executor '"
                        + call.getExecutorId()
                        + "' of framework '"
                        + call.getFrameworkId()
                        + "'"));
            return;
          }
          switch (call.getCallCase()) {
            case SUBSCRIBE -> {
              subscribed = true;
              runner.subscribe(run, call.getSubscribe(), events);
            }
            case UPDATE -> {
              if (!subscribed) {
                end(Status.FAILED_PRECONDITION.withDescription("subscribe first"));
                return;
              }
              runner.update(run, call.getUpdate().getStatus());
            }
            default ->
                end(Status.INVALID_ARGUMENT.withDescription("a call must be subscribe or update"));
          }
        }

        private void end(Status status) {
          ended = true;
          synchronized (runner) { // the runner sends events under its lock
            runner.disconnected(run, events);
            try {
              events.onError(status.asRuntimeException());
            } catch (RuntimeException e) {
              // closed already
            }
          }
        }

        @Override
        public void onError(Throwable t) {
          runner.disconnected(run, events);
        }

        @Override
        public void onCompleted() {
          synchronized (runner) {
            runner.disconnected(run, events);
            try {
              events.onCompleted();
            } catch (RuntimeException e) {
              // closed already
            }
          }
        }
      };
    }
  }
}
