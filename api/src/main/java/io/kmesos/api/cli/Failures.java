package io.kmesos.api.cli;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.lang.reflect.InvocationTargetException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;

/**
 * Turns any failure into one line a user can act on: what went wrong, never a Java class name or a
 * stack trace. For gRPC failures it says why a server could not be reached (connection refused, no
 * answer in time, a TLS handshake that failed, an unknown host) instead of gRPC's {@code
 * UNAVAILABLE: io exception}, by reading the cause chain the transport attached.
 */
public final class Failures {
  private Failures() {}

  /**
   * A qualified exception class name as {@code Throwable.toString()} puts it in front of a message.
   */
  private static final Pattern CLASS_PREFIX =
      Pattern.compile("\\b(?:[a-z][\\w$]*\\.)+[A-Z][\\w$]*(?:Exception|Error)(?:: |\\b)");

  /**
   * The failure as one line: its message, without wrapper exceptions, class names or line breaks.
   */
  public static String oneLine(Throwable t) {
    Throwable root = unwrap(t);
    if (root instanceof StatusRuntimeException || root instanceof StatusException) {
      return reason(root);
    }
    String message = root.getMessage();
    if (message == null || message.isBlank()) {
      Throwable cause = root.getCause();
      return cause != null && cause != root
          ? oneLine(cause)
          : "unexpected failure (" + root.getClass().getSimpleName() + ")";
    }
    return clean(message);
  }

  /**
   * Why a call to a server failed, as a short phrase ("connection refused", "timed out: no answer
   * within 2 s", "TLS handshake failed: ..."). For a failure that is not a gRPC one, its {@link
   * #oneLine} text.
   *
   * @param deadline the deadline the call had, to name it in a time-out (null: not named)
   */
  public static String reason(Throwable t, Duration deadline) {
    Throwable root = unwrap(t);
    Status status =
        root instanceof StatusRuntimeException e
            ? e.getStatus()
            : root instanceof StatusException e ? e.getStatus() : null;
    if (status == null) {
      String transport = transportReason(root);
      return transport != null ? transport : oneLine(root);
    }
    String transport = transportReason(status.getCause());
    if (transport != null) {
      return transport;
    }
    String description = status.getDescription() == null ? "" : status.getDescription();
    switch (status.getCode()) {
      case DEADLINE_EXCEEDED -> {
        // gRPC's own words when the client gave up; any other description is the server's.
        if (description.isEmpty()
            || description.startsWith("CallOptions deadline exceeded")
            || description.startsWith("deadline exceeded")
            || description.startsWith("ClientCall started after")
            || description.startsWith("Deadline exceeded")) {
          return deadline == null
              ? "timed out: no answer in time"
              : "timed out: no answer within " + human(deadline);
        }
      }
      case UNAVAILABLE -> {
        if (description.startsWith("Network closed for unknown reason")) {
          return "the connection was closed without an answer (a TLS port, or not a kmesos server?)";
        }
        if (description.equals("io exception") || description.isEmpty()) {
          // A TLS server that reads a plaintext preface may reset the connection rather than
          // close it (it raced the close): the peer was reached and gave no answer either way.
          if (status.getCause() != null
              && deepestMessage(status.getCause()).contains("Connection reset by peer")) {
            return "the connection was closed without an answer (a TLS port, or not a kmesos server?)";
          }
          return status.getCause() == null
              ? "unreachable"
              : "unreachable: " + clean(deepestMessage(status.getCause()));
        }
      }
      case CANCELLED -> {
        return "cancelled" + (description.isEmpty() ? "" : ": " + clean(description));
      }
      default -> {}
    }
    return description.isEmpty()
        ? status.getCode().name().toLowerCase().replace('_', ' ')
        : clean(description);
  }

  public static String reason(Throwable t) {
    return reason(t, null);
  }

  /**
   * What the transport said in a cause chain (refused, TLS, DNS, time-out), or null if nothing
   * known.
   */
  private static String transportReason(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      String name = c.getClass().getSimpleName();
      String message = c.getMessage() == null ? "" : c.getMessage();
      if (name.equals("NotSslRecordException")) {
        return "TLS handshake failed: the server does not speak TLS";
      }
      if (c instanceof SSLException) {
        String why = clean(deepestMessage(c));
        String alert = alert(why);
        if (alert.equals("certificate_required")) {
          return "TLS handshake failed: the server requires a client certificate (" + why + ")";
        }
        if (alert.equals("certificate_expired")) {
          return "TLS handshake failed: the server refused this client's certificate as expired ("
              + why
              + ")";
        }
        if (REFUSED_CERTIFICATE.matcher(alert).matches()) {
          // The server's TLS layer refused our certificate, and its alert says no more than that
          // (a Java trust manager's refusal reaches BoringSSL as an internal error).
          return "TLS handshake failed: the server refused this client's certificate ("
              + why
              + "): is it of the cluster's CA, and valid now?";
        }
        return "TLS handshake failed: " + why;
      }
      if (c instanceof UnknownHostException) {
        return "unknown host" + (message.isEmpty() ? "" : " " + message);
      }
      if (c instanceof NoRouteToHostException) {
        return "no route to host";
      }
      if (name.equals("ConnectTimeoutException") || c instanceof SocketTimeoutException) {
        return "connection timed out";
      }
      if (c instanceof ConnectException || name.endsWith("ConnectException")) {
        if (message.contains("refused")) {
          return "connection refused";
        }
        if (message.contains("timed out")) {
          return "connection timed out";
        }
        return "cannot connect" + (message.isEmpty() ? "" : ": " + clean(message));
      }
    }
    return null;
  }

  /** The alerts a TLS server sends when it does not accept the client's certificate. */
  private static final Pattern REFUSED_CERTIFICATE =
      Pattern.compile(
          "certificate_unknown|bad_certificate|unknown_ca|unsupported_certificate|internal_error");

  /**
   * The TLS alert in a handshake failure, in the JDK's words ("Received fatal alert:
   * certificate_unknown") or BoringSSL's ("...:SSLV3_ALERT_CERTIFICATE_EXPIRED"), as the JDK names
   * it ("certificate_expired"); "" if none.
   */
  static String alert(String message) {
    Matcher jdk = Pattern.compile("Received fatal alert: (\\w+)").matcher(message);
    if (jdk.find()) {
      return jdk.group(1);
    }
    Matcher ssl = Pattern.compile("(?:SSLV3|TLSV1|TLSV13)_ALERT_(\\w+)").matcher(message);
    return ssl.find() ? ssl.group(1).toLowerCase(Locale.ROOT) : "";
  }

  private static String deepestMessage(Throwable t) {
    String message = t.getMessage();
    for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
      if (c.getMessage() != null && !c.getMessage().isBlank()) {
        message = c.getMessage();
      }
    }
    return message == null ? t.getClass().getSimpleName() : message;
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof ExecutionException
            || t instanceof CompletionException
            || t instanceof InvocationTargetException
            || t instanceof picocli.CommandLine.ExecutionException)
        && t.getCause() != null
        && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }

  /**
   * One line, without the class names that {@code Throwable.toString()} puts in messages it wraps.
   */
  static String clean(String message) {
    String line =
        CLASS_PREFIX.matcher(message).replaceAll("").replaceAll("\\s*\\R\\s*", "; ").strip();
    return line.isEmpty() ? message.strip() : line;
  }

  /** 2 s, 500 ms, 1.5 s, 2 min. */
  public static String human(Duration d) {
    long ms = d.toMillis();
    if (ms < 1000) {
      return ms + " ms";
    }
    if (ms % 60_000 == 0) {
      return (ms / 60_000) + " min";
    }
    return ms % 1000 == 0 ? (ms / 1000) + " s" : String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
  }
}
