package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Ballot;

/**
 * Ordering of ballots: by round, then by proposer. The zero ballot is "none" and below all others.
 */
public final class Ballots {
  public static final Ballot NONE = Ballot.getDefaultInstance();

  private Ballots() {}

  public static int compare(Ballot a, Ballot b) {
    int c = Long.compareUnsigned(a.getRound(), b.getRound());
    return c != 0 ? c : Long.compareUnsigned(a.getProposer(), b.getProposer());
  }

  public static boolean greater(Ballot a, Ballot b) {
    return compare(a, b) > 0;
  }

  public static boolean atLeast(Ballot a, Ballot b) {
    return compare(a, b) >= 0;
  }

  public static Ballot max(Ballot a, Ballot b) {
    return compare(a, b) >= 0 ? a : b;
  }

  public static Ballot of(long round, long proposer) {
    return Ballot.newBuilder().setRound(round).setProposer(proposer).build();
  }

  public static String toString(Ballot b) {
    return b.getRound() + "." + Long.toUnsignedString(b.getProposer(), 16);
  }
}
