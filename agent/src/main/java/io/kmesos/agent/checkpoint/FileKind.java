package io.kmesos.agent.checkpoint;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.kmesos.api.agent.v1.AgentRecord;
import io.kmesos.api.agent.v1.BootIdRecord;
import io.kmesos.api.agent.v1.ExecutorRecord;
import io.kmesos.api.agent.v1.FrameworkRecord;
import io.kmesos.api.agent.v1.LatestRunRecord;
import io.kmesos.api.agent.v1.RunCompletedRecord;
import io.kmesos.api.agent.v1.RunProcessRecord;
import io.kmesos.api.agent.v1.TaskRecord;
import io.kmesos.api.agent.v1.TaskUpdateRecord;

/**
 * The kinds of checkpoint file: each has its own name and code in the header, so a file of one kind
 * found where another belongs is recognised as foreign, never read as the other.
 */
public enum FileKind {
  AGENT_INFO(1, "agent.info", AgentRecord.parser()),
  BOOT_ID(2, "boot_id", BootIdRecord.parser()),
  FRAMEWORK_INFO(3, "framework.info", FrameworkRecord.parser()),
  EXECUTOR_INFO(4, "executor.info", ExecutorRecord.parser()),
  LATEST_RUN(5, "latest", LatestRunRecord.parser()),
  RUN_PROCESS(6, "forked.pid", RunProcessRecord.parser()),
  RUN_COMPLETED(7, "completed", RunCompletedRecord.parser()),
  TASK_INFO(8, "task.info", TaskRecord.parser()),
  /** Not a whole file: a header, then records (see {@link CheckpointFormat}). */
  TASK_UPDATES(9, "task.updates", TaskUpdateRecord.parser());

  private final int code;
  private final String fileName;
  private final Parser<? extends Message> parser;

  FileKind(int code, String fileName, Parser<? extends Message> parser) {
    this.code = code;
    this.fileName = fileName;
    this.parser = parser;
  }

  /** The byte in the file's header. */
  public int code() {
    return code;
  }

  public String fileName() {
    return fileName;
  }

  Parser<? extends Message> parser() {
    return parser;
  }

  static FileKind ofCode(int code) {
    for (FileKind k : values()) {
      if (k.code == code) {
        return k;
      }
    }
    return null;
  }
}
