package io.kmesos.master.core;

import static io.kmesos.master.core.Harness.PRINCIPAL;
import static io.kmesos.master.core.Harness.info;
import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.scheduler.v1.KillRequest;
import io.kmesos.api.scheduler.v1.ReviveRequest;
import io.kmesos.api.scheduler.v1.SuppressRequest;
import io.kmesos.master.core.Harness.Fw;
import org.junit.jupiter.api.Test;

/** Which calls may act for a framework, and the refusal the others get (scheduler.proto). */
class CallCheckTest {
  final Harness h = new Harness();

  Refusal kill(String frameworkId, String streamId, String principal) {
    return h.core
        .kill(
            KillRequest.newBuilder()
                .setFrameworkId(frameworkId)
                .setStreamId(streamId)
                .setTaskId("t")
                .build(),
            principal,
            h.now)
        .refusal()
        .orElse(null);
  }

  @Test
  void missingIdsAreInvalidArguments() {
    Fw f = h.subscribe(info("f", "web"));
    assertThat(kill("", f.stream(), PRINCIPAL))
        .isEqualTo(new Refusal.InvalidArgument("framework_id is missing"));
    assertThat(kill(f.id(), "", PRINCIPAL))
        .isEqualTo(new Refusal.InvalidArgument("stream_id is missing"));
  }

  @Test
  void anotherFrameworksStreamIsPermissionDenied() {
    Fw f = h.subscribe(info("f", "web"));
    Fw g = h.subscribe(info("g", "web"));
    Refusal r = kill(f.id(), g.stream(), PRINCIPAL);
    assertThat(r)
        .isEqualTo(
            new Refusal.PermissionDenied(
                "stream 'm1-S1' is not a subscription of framework 'm1-0000'"));
    assertThat(r.code()).isEqualTo(Refusal.Code.PERMISSION_DENIED);
  }

  @Test
  void anotherPrincipalIsPermissionDenied() {
    Fw f = h.subscribe(info("f", "web"));
    assertThat(kill(f.id(), f.stream(), "mallory"))
        .isEqualTo(
            new Refusal.PermissionDenied(
                "principal 'mallory' may not act for framework 'm1-0000', registered by '"
                    + PRINCIPAL
                    + "'"));
  }

  @Test
  void anOldOrUnknownSubscriptionIsAFailedPrecondition() {
    Fw f = h.subscribe(info("f", "web"));
    Refusal unknownStream = kill(f.id(), "m0-S7", PRINCIPAL);
    assertThat(unknownStream.code()).isEqualTo(Refusal.Code.FAILED_PRECONDITION);
    assertThat(unknownStream.message())
        .isEqualTo(
            "stream 'm0-S7' is not the current subscription of framework 'm1-0000': subscribe"
                + " again and use the new stream ID");
    // A framework this master does not know (it failed over): subscribe again.
    assertThat(kill("m0-0003", "m0-S3", PRINCIPAL))
        .isEqualTo(
            new Refusal.FailedPrecondition(
                "framework 'm0-0003' is not subscribed to this master: subscribe again and use the"
                    + " new stream ID"));
    // A subscription that ended (the framework keeps its failover time).
    h.core.disconnected(f.id(), f.stream(), h.now);
    assertThat(kill(f.id(), f.stream(), PRINCIPAL).code())
        .isEqualTo(Refusal.Code.FAILED_PRECONDITION);
  }

  @Test
  void suppressAndReviveNameTheFrameworksRolesOnly() {
    Fw f = h.subscribe(info("f", "web"));
    h.agent("ag1", "cpus:1;mem:128");
    Effects e =
        h.core.suppress(
            SuppressRequest.newBuilder()
                .setFrameworkId(f.id())
                .setStreamId(f.stream())
                .addRoles("ops")
                .build(),
            PRINCIPAL,
            h.now);
    assertThat(e.refusal())
        .contains(new Refusal.InvalidArgument("framework 'm1-0000' is not in role 'ops'"));
    assertThat(
            h.core
                .suppress(
                    SuppressRequest.newBuilder()
                        .setFrameworkId(f.id())
                        .setStreamId(f.stream())
                        .build(),
                    PRINCIPAL,
                    h.now)
                .refused())
        .isFalse();
    assertThat(Harness.offers(h.tick(), f.id())).isEmpty();
    h.core.revive(
        ReviveRequest.newBuilder().setFrameworkId(f.id()).setStreamId(f.stream()).build(),
        PRINCIPAL,
        h.now);
    assertThat(Harness.offers(h.tick(), f.id())).hasSize(1);
  }
}
