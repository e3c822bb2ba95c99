package io.kmesos.replica.tool;

import io.kmesos.api.cli.VersionProvider;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Reader;
import io.kmesos.replica.core.Ballots;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Prints each replica's status, promised ballot, beginning, learned and ending positions; for a "
          + "replica that does not answer, why (connection refused, timed out, TLS handshake failed, ...).",
      "Exits with 2 if any replica it asked did not answer."
    })
final class StatusCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(
      names = "--replica",
      paramLabel = "ID|HOST:PORT",
      description = "Ask only this replica: its index in --peers (0-based) or its address there.")
  String replica;

  @Override
  public Integer call() {
    List<String> all = peers.list();
    Integer only = replica == null ? null : peers.replica(replica);
    try (Log log = peers.log()) {
      Reader reader = log.reader();
      List<Reader.ReplicaState> states =
          only == null ? reader.status() : List.of(reader.status(only));
      int unreachable = 0;
      System.out.printf(
          "%-8s %-24s %-10s %-38s %-22s %8s %10s %10s%n",
          "REPLICA", "ADDRESS", "STATUS", "LOG", "PROMISED", "BEGIN", "LEARNED", "END");
      for (Reader.ReplicaState s : states) {
        if (s.status() == null) {
          unreachable++;
          System.out.printf("%-8d %-24s unreachable: %s%n", s.replica(), s.address(), s.error());
          continue;
        }
        var st = s.status();
        System.out.printf(
            "%-8d %-24s %-10s %-38s %-22s %8d %10d %10d%n",
            s.replica(),
            s.address(),
            st.getStatus(),
            st.getClusterId().isEmpty() ? "-" : st.getClusterId(),
            Ballots.toString(st.getPromised()),
            st.getBegin(),
            st.getLearnedThrough(),
            st.getEnd());
      }
      return unreachable == 0 ? 0 : 2;
    }
  }
}
