package io.kmesos.replica.tool;

import io.kmesos.api.cli.VersionProvider;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Writer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Becomes the log's writer and appends every line of standard input, pipelined; prints
 * {@code position<TAB>line} for each line once it is committed, in order. What it printed is what
 * the log acknowledged, which makes it a writer process that can be killed mid-stream in tests.
 */
@Command(name = "append", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "Elects a writer and appends each line of standard input; prints position<TAB>line once committed.")
final class AppendCommand implements java.util.concurrent.Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(names = "--in-flight", defaultValue = "1000", description = "Appends in flight at most (default: ${DEFAULT-VALUE}).")
  int inFlight;

  @Override
  public Integer call() throws Exception {
    PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    try (Log log = new Log(peers.list()); Writer writer = log.writer()) {
      long ending = writer.elect().get(30, TimeUnit.SECONDS);
      System.err.println("kmesos-log append: elected; the log ends at " + ending);
      BlockingQueue<Object[]> pending = new ArrayBlockingQueue<>(Math.max(1, inFlight));
      Thread printer = new Thread(() -> {
        try {
          while (true) {
            Object[] p = pending.take();
            if (p.length == 0) {
              return;
            }
            @SuppressWarnings("unchecked")
            long position = ((CompletableFuture<Long>) p[0]).get(60, TimeUnit.SECONDS);
            out.println(position + "\t" + p[1]);
          }
        } catch (Exception e) {
          System.err.println("kmesos-log append: " + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()));
          System.exit(1);
        }
      }, "append-printer");
      printer.start();
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line; (line = in.readLine()) != null; ) {
        pending.put(new Object[] {writer.append(line.getBytes(StandardCharsets.UTF_8)), line});
      }
      pending.put(new Object[0]);
      printer.join();
    }
    return 0;
  }
}
