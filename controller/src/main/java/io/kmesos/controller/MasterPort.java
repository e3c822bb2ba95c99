package io.kmesos.controller;

import com.google.protobuf.util.Timestamps;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.kmesos.api.KmesosVersion;
import io.kmesos.api.registry.v1.AgentState;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.MarkAgentReachable;
import io.kmesos.api.registry.v1.MarkAgentRegistered;
import io.kmesos.api.registry.v1.MarkAgentUnreachable;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.registry.v1.Weight;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.controller.master.MasterEndpoints;
import io.kmesos.controller.reconcile.RemovalRateLimit;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.master.auth.Authenticator;
import io.kmesos.master.server.AgentStore;
import io.kmesos.master.server.FrameworkStore;
import io.kmesos.master.server.MasterServer;
import io.kmesos.master.server.MasterServerSettings;
import io.kmesos.master.server.RegistryView;
import io.kmesos.registry.Names;
import io.kmesos.registry.Registrar;
import io.kmesos.registry.RegistryContents;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The master's gRPC port in the controller: started with the process (a standby answers every call
 * UNAVAILABLE naming the leader), serving once this controller's {@link Master} has won the Lease
 * and recovered the registry. It feeds the server what it needs of the cluster:
 *
 * <ul>
 *   <li>the registry's admitted agents and the roles' weights, read again whenever the registry's
 *       version changes ({@link #REGISTRY_POLL});
 *   <li>the node of each Agent resource by UID (an informer on Agents), for the check that an agent
 *       speaks only for its own node;
 *   <li>the leader's address for a standby's hint: the master writes it on the Lease (annotations
 *       {@link #ADDRESS} and {@link #HOLDER}; fabric8's elector patches only the spec, so they
 *       stay), a standby reads it back, at most once per {@link #LEASE_CACHE_MILLIS}.
 * </ul>
 */
final class MasterPort implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MasterPort.class);
  static final String ADDRESS = "kmesos.io/master-address";
  static final String HOLDER = "kmesos.io/master-address-holder";
  static final long REGISTRY_POLL = 250;
  static final long LEASE_CACHE_MILLIS = 1000;

  private final KubernetesClient client;
  private final String leaseNamespace;
  private final String leaseName;
  private final SharedIndexInformer<Agent> agents;
  private final MasterServer server;
  private final RemovalRateLimit removals;
  private final ScheduledExecutorService registryPoll =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "master-registry-view");
            t.setDaemon(true);
            return t;
          });
  private volatile long leaseReadAt;
  private volatile Optional<String> leader = Optional.empty();

  MasterPort(
      KubernetesClient client,
      String leaseNamespace,
      String leaseName,
      MasterServerSettings settings,
      MutualTls tls,
      Authenticator authenticator,
      RemovalRateLimit removals,
      MeterRegistry metrics)
      throws IOException {
    this.client = client;
    this.removals = removals;
    this.leaseNamespace = leaseNamespace;
    this.leaseName = leaseName;
    this.agents = client.resources(Agent.class).inform();
    agents.addIndexers(Map.of("uid", a -> List.of(a.getMetadata().getUid())));
    this.server =
        MasterServer.start(
            settings,
            tls,
            authenticator,
            this::nodeOf,
            this::leaderAddress,
            metrics,
            Clock.systemUTC());
  }

  int port() {
    return server.port();
  }

  /**
   * Frameworks live in the registry: read back when this master starts leading, stored (and
   * committed) before a framework hears anything that depends on them. A store that fails means the
   * registrar stopped (another master fenced this one) or refused the record: either way this
   * controller is no longer a master that keeps its promises, so it gives up mastership.
   */
  static FrameworkStore frameworkStore(Registrar registrar, Consumer<String> giveUp) {
    return new FrameworkStore() {
      @Override
      public List<Framework> frameworks() {
        return registrar.frameworks();
      }

      @Override
      public void store(Operation operation) throws Exception {
        registrar.apply(operation).get(STORE_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      }

      @Override
      public void failed(String why) {
        giveUp.accept(why);
      }
    };
  }

  /**
   * Agents the master finds unreachable are marked so in the registry through the same removal rate
   * limit as deleted Agent resources (Mesos limits both with {@code --agent_removal_rate_limit}): a
   * mark waits for a token on {@code timer}, then for its commit. One that comes back is admitted
   * again with the info the registry holds of it.
   */
  static AgentStore agentStore(
      Registrar registrar, RemovalRateLimit removals, ScheduledExecutorService timer) {
    return new AgentStore() {
      @Override
      public CompletableFuture<Void> markUnreachable(String agentId, Instant at) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Operation op =
            Operation.newBuilder()
                .setMarkAgentUnreachable(
                    MarkAgentUnreachable.newBuilder()
                        .setId(agentId)
                        .setAt(Timestamps.fromMillis(at.toEpochMilli())))
                .build();
        whenPermitted(agentId, op, done);
        return done;
      }

      private void whenPermitted(String agentId, Operation op, CompletableFuture<Void> done) {
        long wait = removals.acquire();
        if (wait > 0) {
          log.info(
              "master: marking agent {} unreachable is held back {} ms by the agent removal rate"
                  + " limit",
              agentId,
              wait);
          timer.schedule(() -> whenPermitted(agentId, op, done), wait, TimeUnit.MILLISECONDS);
          return;
        }
        commit(op, done);
      }

      @Override
      public CompletableFuture<Void> markRegistered(String agentId, Instant at) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        commit(
            Operation.newBuilder()
                .setMarkAgentRegistered(
                    MarkAgentRegistered.newBuilder()
                        .setId(agentId)
                        .setAt(Timestamps.fromMillis(at.toEpochMilli())))
                .build(),
            done);
        return done;
      }

      @Override
      public CompletableFuture<Void> markReachable(String agentId) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        io.kmesos.api.registry.v1.Agent held;
        try {
          held = registrar.entry(Names.agent(agentId), io.kmesos.api.registry.v1.Agent.class);
        } catch (RuntimeException e) {
          return CompletableFuture.failedFuture(e);
        }
        if (held == null) {
          return CompletableFuture.failedFuture(
              new IllegalStateException(
                  "agent "
                      + agentId
                      + " is no longer in the registry (pruned or removed); its Agent resource"
                      + " must be created again"));
        }
        if (held.getState() == AgentState.ADMITTED) {
          return CompletableFuture.completedFuture(null);
        }
        commit(
            Operation.newBuilder()
                .setMarkAgentReachable(MarkAgentReachable.newBuilder().setInfo(held.getInfo()))
                .build(),
            done);
        return done;
      }

      private void commit(Operation op, CompletableFuture<Void> done) {
        try {
          registrar
              .apply(op)
              .whenComplete(
                  (changed, failed) -> {
                    if (failed != null) {
                      done.completeExceptionally(failed);
                    } else {
                      done.complete(null);
                    }
                  });
        } catch (RuntimeException e) {
          done.completeExceptionally(e);
        }
      }
    };
  }

  /** How long a framework record may take to commit before this master gives up. */
  static final Duration STORE_TIMEOUT = Duration.ofSeconds(60);

  /** The node of the Agent resource with this UID: its name. */
  private Optional<String> nodeOf(String agentId) {
    return agents.getIndexer().byIndex("uid", agentId).stream()
        .map(a -> a.getMetadata().getName())
        .findFirst();
  }

  /**
   * A standby runs the master's start once, on what the registry held when it read it, without
   * serving: the registry view and the master core's code are then warm when it takes over (see
   * {@code MasterServer.warmUp}). Best effort.
   */
  void warmUp(RegistryContents contents) {
    try {
      Registry registry = contents.toProto();
      RegistryView view = view(registry);
      List<String> admitted = new ArrayList<>(view.admitted().keySet());
      admitted.retainAll(view.registered());
      server.warmUp(registry.getFrameworksList(), admitted);
    } catch (RuntimeException e) {
      log.info("master: could not warm up the master's start: {}", e.toString());
    }
  }

  /**
   * This controller is the master with a recovered registry: serve, keep the server's registry view
   * current, and tell standbys where it is.
   */
  void lead(
      Registrar registrar,
      String masterId,
      String address,
      String identity,
      Consumer<String> giveUp) {
    // The first view is queued before the core is created, so no agent is refused for want of it.
    long[] seen = {registrar.version()};
    server.registryChanged(view(registrar.registry()));
    server.lead(
        MasterInfo.newBuilder()
            .setId(masterId)
            .setAddress(address)
            .setVersion(KmesosVersion.version())
            .setLeaderIdentity(identity)
            .setElectedAt(Timestamps.fromMillis(System.currentTimeMillis()))
            .build(),
        frameworkStore(registrar, giveUp),
        agentStore(registrar, removals, registryPoll));
    registryPoll.scheduleWithFixedDelay(
        () -> {
          try {
            long version = registrar.version();
            if (version != seen[0]) {
              seen[0] = version;
              server.registryChanged(view(registrar.registry()));
            }
          } catch (RuntimeException e) {
            log.warn("master: could not read the registry for the master's port: {}", e.toString());
          }
        },
        REGISTRY_POLL,
        REGISTRY_POLL,
        TimeUnit.MILLISECONDS);
    announce(address, identity);
    publishEndpoints(address, 1);
  }

  /**
   * Points Service {@code kmesos-master} at this master (its EndpointSlice), as the API server
   * publishes the {@code kubernetes} Service. Retried every few seconds while the API server
   * refuses: a master is still a master without it (clients given addresses, or following a
   * standby's hint, still find it).
   */
  private void publishEndpoints(String address, int attempt) {
    int colon = address.lastIndexOf(':');
    String host = address.substring(0, colon).replace("[", "").replace("]", "");
    int port = Integer.parseInt(address.substring(colon + 1));
    if (isLoopback(host)) {
      // The API server refuses loopback endpoints: a master on 127.0.0.1 (kmesos-local, tests) is
      // reached by the addresses its clients are given, and by standbys' hints.
      log.info(
          "master: Service {}/kmesos-master not published: {} is a loopback address",
          leaseNamespace,
          address);
      return;
    }
    try {
      new MasterEndpoints(client, leaseNamespace).publish(host, port);
      log.info("master: Service {}/kmesos-master points at {}", leaseNamespace, address);
    } catch (RuntimeException e) {
      log.warn(
          "master: could not publish Service {}/kmesos-master at {} (attempt {}): {}",
          leaseNamespace,
          address,
          attempt,
          e.getMessage());
      if (attempt < PUBLISH_ATTEMPTS) {
        registryPoll.schedule(
            () -> publishEndpoints(address, attempt + 1), PUBLISH_RETRY, TimeUnit.SECONDS);
      }
    }
  }

  static boolean isLoopback(String host) {
    return host.equals("localhost")
        || host.startsWith("127.")
        || host.equals("::1")
        || host.equals("0:0:0:0:0:0:0:1");
  }

  private static final int PUBLISH_ATTEMPTS = 60;
  private static final long PUBLISH_RETRY = 5;

  static RegistryView view(Registry registry) {
    Map<String, String> admitted = new HashMap<>();
    Set<String> registered = new HashSet<>();
    for (var a : registry.getAgentsList()) {
      admitted.put(a.getInfo().getId(), a.getInfo().getHostname());
      if (a.hasRegisteredAt()) {
        registered.add(a.getInfo().getId());
      }
    }
    Set<String> unreachable = new HashSet<>();
    for (var a : registry.getUnreachableList()) {
      unreachable.add(a.getInfo().getId());
    }
    Set<String> gone = new HashSet<>();
    for (var a : registry.getGoneList()) {
      gone.add(a.getInfo().getId());
    }
    Map<String, Double> weights = new HashMap<>();
    for (Weight w : registry.getWeightsList()) {
      weights.put(w.getRole(), w.getWeight());
    }
    return new RegistryView(admitted, unreachable, gone, weights, registered);
  }

  /** Writes this master's address on the Lease, for standbys' hints. Best effort. */
  private void announce(String address, String identity) {
    try {
      String patch =
          "{\"metadata\":{\"annotations\":{\""
              + ADDRESS
              + "\":\""
              + address
              + "\",\""
              + HOLDER
              + "\":\""
              + identity
              + "\"}}}";
      client
          .leases()
          .inNamespace(leaseNamespace)
          .withName(leaseName)
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    } catch (RuntimeException e) {
      log.info(
          "master: could not write its address on the Lease {}/{} ({}); standbys cannot name it",
          leaseNamespace,
          leaseName,
          e.getMessage());
    }
  }

  /** The current holder's address as it wrote it on the Lease, if the Lease says so. */
  private Optional<String> leaderAddress() {
    long now = System.currentTimeMillis();
    if (now - leaseReadAt < LEASE_CACHE_MILLIS) {
      return leader;
    }
    Optional<String> found = Optional.empty();
    try {
      Lease lease = client.leases().inNamespace(leaseNamespace).withName(leaseName).get();
      if (lease != null
          && lease.getSpec() != null
          && lease.getSpec().getHolderIdentity() != null
          && lease.getMetadata().getAnnotations() != null
          && lease
              .getSpec()
              .getHolderIdentity()
              .equals(lease.getMetadata().getAnnotations().get(HOLDER))) {
        found = Optional.ofNullable(lease.getMetadata().getAnnotations().get(ADDRESS));
      }
    } catch (RuntimeException e) {
      log.debug("master: could not read the Lease for the leader's address: {}", e.getMessage());
    }
    leader = found;
    leaseReadAt = now;
    return found;
  }

  @Override
  public void close() {
    registryPoll.shutdownNow();
    server.close();
    agents.close();
  }
}
