package io.kmesos.local;

import com.google.protobuf.util.Timestamps;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.agent.session.MasterSession;
import io.kmesos.agent.session.SessionSettings;
import io.kmesos.agent.updates.RetryTimer;
import io.kmesos.agent.updates.StatusUpdateQueues;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.ShutdownFramework;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentSpec;
import io.kmesos.devcluster.ServiceAccountTokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Many agents in one JVM, for benchmarks of the master at scale: each is a node with an Agent
 * resource the master admits, a ServiceAccount token bound to a pod on that node, and a real {@link
 * MasterSession} (its own gRPC channel, mutual TLS with the agent certificate, bearer token,
 * Register/Reregister, pings, status updates with retries). Only the tasks are simulated: a RunTask
 * is answered with TASK_RUNNING at once and the task runs until killed, so that a master's view of
 * thousands of tasks can be built without thousands of processes.
 */
final class SimulatedAgents implements AutoCloseable {
  /** The Kubernetes namespace and ServiceAccount the agents' tokens are of (as kmesos-local's). */
  static final String ACCOUNT = "kmesos-agent";

  private final KubernetesClient admin;
  private final String namespace;
  private final Path dir;
  private final MutualTls tls;
  private final List<String> masters;
  private final ScheduledExecutorService timers =
      Executors.newScheduledThreadPool(
          2,
          r -> {
            Thread t = new Thread(r, "simulated-agents");
            t.setDaemon(true);
            return t;
          });
  private final List<Simulated> agents = new ArrayList<>();
  private final List<MasterSession> sessions = new ArrayList<>();
  private final AtomicInteger running = new AtomicInteger();

  /**
   * @param admin a client allowed to create nodes, pods, tokens and Agents
   * @param namespace where the agents' ServiceAccount and pods are (the controller's namespace)
   * @param dir where the token files go
   * @param tls the agent certificate (spiffe://kmesos/agent), shared by all
   * @param masters host:port of every controller that may lead
   */
  SimulatedAgents(
      KubernetesClient admin, String namespace, Path dir, MutualTls tls, List<String> masters) {
    this.admin = admin;
    this.namespace = namespace;
    this.dir = dir;
    this.tls = tls;
    this.masters = List.copyOf(masters);
  }

  /**
   * Makes {@code n} nodes named {@code prefix-00000}..., each with a token and an Agent offering
   * {@code resources}, waits (up to {@code timeout}) until the registry admits them all, then
   * starts their sessions with the master.
   */
  SimulatedAgents start(String prefix, int n, Map<String, Double> resources, Duration timeout)
      throws Exception {
    if (n < 1) {
      throw new IllegalArgumentException("at least one simulated agent, not " + n);
    }
    Files.createDirectories(dir);
    ServiceAccountTokens tokens = new ServiceAccountTokens(admin);
    tokens.ensureServiceAccount(namespace, ACCOUNT);
    List<String> nodes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      nodes.add(String.format("%s-%05d", prefix, i));
    }
    // The API server is the bottleneck of setting up: a few calls at a time, not one.
    ExecutorService setup = Executors.newFixedThreadPool(6);
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      List<Future<?>> done = new ArrayList<>();
      for (String node : nodes) {
        done.add(
            setup.submit(
                () -> {
                  Files.writeString(
                      dir.resolve(node + ".token"), tokens.podBoundToken(namespace, ACCOUNT, node));
                  Agent agent = new Agent();
                  agent.getMetadata().setName(node);
                  agent.setSpec(new AgentSpec());
                  agent.getSpec().setHostname(node);
                  agent.getSpec().setResources(new HashMap<>(resources));
                  admin
                      .resource(agent)
                      .fieldManager("kmesos-agent")
                      .forceConflicts()
                      .serverSideApply();
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
    } finally {
      setup.shutdownNow();
    }
    Map<String, String> ids = new HashMap<>();
    while (ids.size() < n) {
      for (Agent a : admin.resources(Agent.class).list().getItems()) {
        if (a.getStatus() != null
            && "Admitted".equals(a.getStatus().getState())
            && nodes.contains(a.getMetadata().getName())) {
          ids.put(a.getMetadata().getName(), a.getMetadata().getUid());
        }
      }
      if (ids.size() < n) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "after " + timeout + ", " + ids.size() + " of " + n + " simulated agents admitted");
        }
        Thread.sleep(500);
      }
    }
    List<Resource> offered = new ArrayList<>();
    resources.forEach((k, v) -> offered.add(Resource.newBuilder().setName(k).setScalar(v).build()));
    for (String node : nodes) {
      StatusUpdateQueues updates =
          new StatusUpdateQueues(
              RetryTimer.of(timers), Duration.ofSeconds(10), Duration.ofMinutes(10));
      Simulated agent = new Simulated(ids.get(node), offered, updates);
      SessionSettings settings =
          new SessionSettings(
              masters,
              dir.resolve(node + ".token"),
              node,
              "simulated-boot",
              Duration.ofSeconds(15),
              Duration.ofSeconds(75),
              Duration.ofMillis(100),
              Duration.ofSeconds(5));
      agents.add(agent);
      sessions.add(new MasterSession(settings, tls, agent, updates).start());
    }
    return this;
  }

  /** How many agents have a session (registered or re-registered) with {@code master} now. */
  int upWith(String master) {
    int up = 0;
    for (MasterSession s : sessions) {
      if (s.isUp() && master.equals(s.master())) {
        up++;
      }
    }
    return up;
  }

  int size() {
    return sessions.size();
  }

  /** Tasks running on all the agents together. */
  int runningTasks() {
    return running.get();
  }

  @Override
  public void close() {
    sessions.forEach(MasterSession::close);
    timers.shutdownNow();
  }

  /** One agent: tasks run as soon as they are sent, and until they are killed. */
  private final class Simulated implements MasterSession.Agent {
    private final String id;
    private final List<Resource> resources;
    private final StatusUpdateQueues updates;
    private final Map<String, Task> tasks = new ConcurrentHashMap<>();
    private final Map<String, FrameworkInfo> frameworks = new ConcurrentHashMap<>();

    Simulated(String id, List<Resource> resources, StatusUpdateQueues updates) {
      this.id = id;
      this.resources = resources;
      this.updates = updates;
    }

    @Override
    public Optional<String> agentId() {
      return Optional.of(id);
    }

    @Override
    public List<Resource> resources() {
      return resources;
    }

    @Override
    public List<Task> tasks() {
      return List.copyOf(tasks.values());
    }

    @Override
    public Map<String, FrameworkInfo> frameworks() {
      return Map.copyOf(frameworks);
    }

    @Override
    public void runTask(RunTask run) {
      FrameworkInfo framework = run.getFramework();
      frameworks.put(framework.getId(), framework);
      String taskId = run.getTask().getTaskId();
      Task task =
          Task.newBuilder()
              .setInfo(run.getTask())
              .setFrameworkId(framework.getId())
              .setState(TaskState.TASK_RUNNING)
              .build();
      if (tasks.put(taskId, task) == null) {
        running.incrementAndGet();
      }
      updates.add(framework, status(framework, taskId, TaskState.TASK_RUNNING));
    }

    @Override
    public void killTask(KillTask kill) {
      Task task = tasks.remove(kill.getTaskId());
      if (task != null) {
        running.decrementAndGet();
        updates.add(
            frameworks.get(task.getFrameworkId()),
            status(frameworks.get(task.getFrameworkId()), kill.getTaskId(), TaskState.TASK_KILLED));
      }
    }

    @Override
    public void shutdownFramework(ShutdownFramework shutdown) {
      tasks
          .values()
          .removeIf(
              t -> {
                boolean match = t.getFrameworkId().equals(shutdown.getFrameworkId());
                if (match) {
                  running.decrementAndGet();
                }
                return match;
              });
    }

    @Override
    public void gone(String message) {
      running.addAndGet(-tasks.size());
      tasks.clear();
    }

    private TaskStatus status(FrameworkInfo framework, String taskId, TaskState state) {
      return TaskStatus.newBuilder()
          .setTaskId(taskId)
          .setAgentId(id)
          .setFrameworkId(framework.getId())
          .setState(state)
          .setSource(TaskStatus.Source.SOURCE_EXECUTOR)
          .setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()))
          .build();
    }
  }
}
