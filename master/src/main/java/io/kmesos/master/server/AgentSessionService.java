package io.kmesos.master.server;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.AgentSessionGrpc;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Refused;
import io.kmesos.master.auth.Caller;
import java.util.Optional;
import java.util.function.Function;

/**
 * The AgentSession service (agent.proto). The agent's certificate (spiffe://kmesos/agent) is
 * checked before this by {@code MutualTls.identityCheck}, its bearer token by {@link
 * Authentication}; here the first message must be register or reregister, and the token's node
 * (TokenReview's node-name extra) must be the node of the Agent resource whose UID the agent
 * claims: an agent can only speak for its own node. Admission (the registry) is checked on the
 * loop.
 */
final class AgentSessionService extends AgentSessionGrpc.AgentSessionImplBase {
  private final MasterLoop loop;
  private final Function<String, Optional<String>> agentNodes;
  private final int queueLimit;

  /**
   * @param agentNodes the node (the Agent resource's name) of the Agent resource with this UID;
   *     empty if there is none. Called on gRPC's threads; it should read a cache.
   */
  AgentSessionService(
      MasterLoop loop, Function<String, Optional<String>> agentNodes, int queueLimit) {
    this.loop = loop;
    this.agentNodes = agentNodes;
    this.queueLimit = queueLimit;
  }

  @Override
  public StreamObserver<AgentMessage> connect(StreamObserver<MasterMessage> responses) {
    ServerCallStreamObserver<MasterMessage> call =
        (ServerCallStreamObserver<MasterMessage>) responses;
    Caller caller = Authentication.CALLER.get();
    MasterLoop.AgentSession session =
        new MasterLoop.AgentSession(new Outbound<>(call, queueLimit, "an agent"));
    session.stream.onCancel(() -> loop.agentGone(session));
    return new StreamObserver<>() {
      private boolean first = true;

      @Override
      public void onNext(AgentMessage message) {
        if (!first) {
          loop.agentMessage(session, message);
          return;
        }
        first = false;
        if (!message.hasRegister() && !message.hasReregister()) {
          session.stream.close(
              Status.INVALID_ARGUMENT.withDescription(
                  "an agent session must begin with register or reregister, not "
                      + message.getKindCase()));
          return;
        }
        String agentId =
            message.hasRegister()
                ? message.getRegister().getAgentId()
                : message.getReregister().getAgentId();
        if (agentId.isEmpty()) {
          session.refuse(
              Refused.Reason.REASON_INVALID,
              "agent_id is empty: an agent registers with its Agent resource's UID");
          return;
        }
        Optional<String> node = agentNodes.apply(agentId);
        if (node.isEmpty()) {
          session.refuse(
              Refused.Reason.REASON_NOT_ADMITTED,
              "unknown agent "
                  + agentId
                  + ": no Agent resource has this UID (was it deleted and recreated?)");
          return;
        }
        if (!caller.nodeName().equals(node)) {
          session.stream.close(
              Status.PERMISSION_DENIED.withDescription(
                  caller
                          .nodeName()
                          .map(n -> "the token of " + caller.principal() + " is bound to node " + n)
                          .orElse(
                              "the token of "
                                  + caller.principal()
                                  + " is not bound to a node (use the agent pod's projected"
                                  + " ServiceAccount token)")
                      + ", but agent "
                      + agentId
                      + " is the Agent of node "
                      + node.get()));
          return;
        }
        loop.agentConnect(session, message);
      }

      @Override
      public void onError(Throwable t) {
        loop.agentGone(session);
      }

      @Override
      public void onCompleted() {
        // The agent ends its session: end ours too.
        session.stream.close(Status.OK);
        loop.agentGone(session);
      }
    };
  }
}
