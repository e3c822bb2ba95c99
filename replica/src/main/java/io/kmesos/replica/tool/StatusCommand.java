package io.kmesos.replica.tool;

import io.kmesos.api.cli.VersionProvider;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Reader;
import io.kmesos.replica.core.Ballots;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "status", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "Prints each replica's status, promised ballot, beginning, learned and ending positions.")
final class StatusCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Override
  public Integer call() {
    try (Log log = new Log(peers.list())) {
      int unreachable = 0;
      System.out.printf("%-8s %-24s %-10s %-38s %-22s %8s %10s %10s%n", "REPLICA", "ADDRESS", "STATUS", "LOG",
          "PROMISED", "BEGIN", "LEARNED", "END");
      for (Reader.ReplicaState s : log.reader().status()) {
        if (s.status() == null) {
          unreachable++;
          System.out.printf("%-8d %-24s %s%n", s.replica(), s.address(), s.error());
          continue;
        }
        var st = s.status();
        System.out.printf("%-8d %-24s %-10s %-38s %-22s %8d %10d %10d%n", s.replica(), s.address(), st.getStatus(),
            st.getClusterId().isEmpty() ? "-" : st.getClusterId(), Ballots.toString(st.getPromised()),
            st.getBegin(), st.getLearnedThrough(), st.getEnd());
      }
      return unreachable == 0 ? 0 : 2;
    }
  }
}
