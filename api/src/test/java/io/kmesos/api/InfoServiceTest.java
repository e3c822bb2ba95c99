package io.kmesos.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.kmesos.api.v1.BuildInfo;
import io.kmesos.api.v1.GetBuildInfoRequest;
import io.kmesos.api.v1.InfoGrpc;
import org.junit.jupiter.api.Test;

class InfoServiceTest {

  @Test
  void versionIsStampedByTheBuild() {
    // The resource is filtered by Maven; an unfiltered placeholder means the build is broken.
    assertThat(KmesosVersion.version()).isNotBlank().doesNotContain("${");
    assertThat(KmesosVersion.versionLine("kmesos-log"))
        .startsWith("kmesos-log " + KmesosVersion.version());
  }

  @Test
  void serverAnswersWithItsComponentAndVersion() throws Exception {
    String name = InProcessServerBuilder.generateName();
    Server server =
        InProcessServerBuilder.forName(name).addService(new InfoService("agent")).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    try {
      BuildInfo info =
          InfoGrpc.newBlockingStub(channel).getBuildInfo(GetBuildInfoRequest.getDefaultInstance());
      assertThat(info.getComponent()).isEqualTo("agent");
      assertThat(info.getVersion()).isEqualTo(KmesosVersion.version());
      assertThat(info.getJavaVersion()).isEqualTo(System.getProperty("java.version"));
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }
}
