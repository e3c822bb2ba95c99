package io.kmesos.replica.client;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.ActionType;

/** One learned position of the log: an APPEND with its payload, a NOP filler, or a TRUNCATE. */
public record LogEntry(long position, ActionType type, ByteString payload, long truncateTo) {}
