package io.kmesos.api.admin;

/**
 * One probe's answer: whether the process passes it, and in one line what it found (the body of the
 * HTTP answer, which {@code kubectl describe pod} shows when a probe fails).
 */
public record Health(boolean ok, String detail) {
  public Health {
    if (detail == null || detail.isBlank() || detail.contains("\n")) {
      throw new IllegalArgumentException("a probe's detail is one non-empty line");
    }
  }

  public static Health ok(String detail) {
    return new Health(true, detail);
  }

  public static Health failing(String why) {
    return new Health(false, why);
  }
}
