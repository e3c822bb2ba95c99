package io.kmesos.master.server;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.kmesos.api.grpc.DisabledEndpoints;
import io.kmesos.api.grpc.StandardServices;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.master.auth.Authenticator;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The master's gRPC port: Scheduler, AgentSession and Operator on one TLS port (the controller's
 * certificate; a client certificate is optional at the TLS level and required per service where the
 * contract says so), with health, reflection and Info ({@link StandardServices}).
 *
 * <p>It starts as a standby: every call of the three services is answered UNAVAILABLE naming the
 * leader ({@link Standby}). {@link #lead} creates the {@link MasterCore} of this master run, after
 * which the calls go to the {@link MasterLoop}. Losing mastership ends the process, so there is no
 * way back to standby.
 *
 * <p>Who may call what (each check says what failed):
 *
 * <ul>
 *   <li>Scheduler: a bearer token ({@link Authentication}); roles per {@link
 *       Authenticator#mayUseRole} at Subscribe; the framework's principal per the core.
 *   <li>AgentSession: a client certificate spiffe://kmesos/agent and a bearer token bound to the
 *       node of the Agent claimed; the agent admitted in the registry.
 *   <li>Operator: an admin client certificate, or a bearer token with {@link
 *       Authenticator#mayViewState}.
 * </ul>
 */
public final class MasterServer implements AutoCloseable {
  private final Server server;
  private final MasterLoop loop;
  private final StandardServices standard;
  private final ExecutorService calls;

  private MasterServer(
      Server server, MasterLoop loop, StandardServices standard, ExecutorService calls) {
    this.server = server;
    this.loop = loop;
    this.standard = standard;
    this.calls = calls;
  }

  /**
   * Starts the port, serving as a standby until {@link #lead}.
   *
   * @param tls the controller's certificate and the cluster's CA
   * @param authenticator who calls, which roles they may use (may block: asked on gRPC's threads)
   * @param agentNodes the node of the Agent resource with a UID, empty if none (a cache read)
   * @param leaderAddress the leading master's address when known, for a standby's hint
   * @param clock the time the core is given
   */
  public static MasterServer start(
      MasterServerSettings settings,
      MutualTls tls,
      Authenticator authenticator,
      Function<String, Optional<String>> agentNodes,
      Supplier<Optional<String>> leaderAddress,
      MeterRegistry metrics,
      Clock clock)
      throws IOException {
    MasterLoop loop = new MasterLoop(settings, clock, new MasterMetrics(metrics));
    Standby standby = new Standby(loop::serving, leaderAddress);
    Authentication tokens = new Authentication(authenticator, false);
    Authentication tokensOrAdmin = new Authentication(authenticator, true);
    AtomicInteger threads = new AtomicInteger();
    // gRPC runs handlers and interceptors here; they may block on the authenticator, so a pool
    // that grows, never the loop and never Netty's threads.
    ExecutorService calls =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "master-grpc-" + threads.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(
                new InetSocketAddress(settings.listenHost(), settings.port()),
                tls.serverCredentialsClientCertificateOptional())
            .executor(calls);
    // Interceptors run last-added first: standby, then the certificate, then the token.
    StandardServices standard =
        StandardServices.addTo(
            builder,
            "master",
            DisabledEndpoints.NONE,
            intercepted(
                new SchedulerService(loop, authenticator, settings.streamQueueLimit()),
                tokens,
                standby),
            intercepted(
                new AgentSessionService(loop, agentNodes, settings.streamQueueLimit()),
                tokens,
                MutualTls.identityCheck(EnumSet.of(Identity.AGENT)),
                standby),
            intercepted(new OperatorService(loop, authenticator), tokensOrAdmin, standby));
    Server server;
    try {
      server = builder.build().start();
    } catch (IOException e) {
      loop.close();
      calls.shutdownNow();
      throw new IOException(
          "cannot serve the master's port on "
              + settings.listenHost()
              + ":"
              + settings.port()
              + ": "
              + e.getMessage(),
          e);
    }
    // The port answers (health SERVING) as standby too: a standby's answer is what tells clients
    // where the leader is.
    standard.serving();
    return new MasterServer(server, loop, standard, calls);
  }

  private static BindableService intercepted(
      BindableService service, ServerInterceptor... interceptors) {
    return () -> ServerInterceptors.intercept(service, interceptors);
  }

  /** The port it listens on (the one picked, for port 0). */
  public int port() {
    return server.getPort();
  }

  /**
   * This controller is the master and recovered the registry: create the core of this master run
   * ({@code info} is what frameworks and agents are told), take back the frameworks {@code store}
   * holds, and serve; every framework change is stored there before anyone hears of it.
   */
  public void lead(MasterInfo info, FrameworkStore store) {
    lead(info, store, AgentStore.UNRECORDED);
  }

  /**
   * As {@link #lead(MasterInfo, FrameworkStore)}, and agents that go silent (or do not re-register
   * after this failover) are marked unreachable in {@code agents}, and admitted there again when
   * they come back.
   */
  public void lead(MasterInfo info, FrameworkStore store, AgentStore agents) {
    loop.lead(info, store, agents);
  }

  /**
   * A standby gets ready to take over: runs the master core's code once on a core it throws away
   * (see {@code MasterLoop.warmUp}), with what the registry held when the standby read it. Before
   * {@link #lead}; does nothing after.
   *
   * @return completes with whether it ran (false: it failed, which is only logged, or it leads)
   */
  public CompletableFuture<Boolean> warmUp(
      List<Framework> frameworks, List<String> admittedAgents) {
    return loop.warmUp(frameworks, admittedAgents);
  }

  /** Whether it serves (after {@link #lead}), rather than answering as a standby. */
  public boolean serving() {
    return loop.serving();
  }

  /** The registry's admitted agents and weights changed (or were read first). */
  public void registryChanged(RegistryView view) {
    loop.registryChanged(view);
  }

  @Override
  public void close() {
    standard.notServing();
    loop.close();
    // Every call is answered by the loop, which has just stopped: nothing in flight can finish, and
    // the agents' and frameworks' streams never end on their own. Waiting for them (a graceful
    // shutdown) only kept them on a dead master for its whole grace period, delaying the handover
    // to the next master (bench/handover.sh); cancelled now, their clients reconnect at once.
    server.shutdownNow();
    calls.shutdownNow();
  }
}
