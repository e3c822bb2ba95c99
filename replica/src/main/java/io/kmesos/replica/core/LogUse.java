package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusResponse;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Whether a log is <em>in use</em>: the one rule that decides both whether an EMPTY replica must
 * rebuild the log before it votes ({@link Recovery}) and whether {@code initialize} may make EMPTY
 * replicas voting members ({@code Log.initialize}).
 *
 * <h2>The rule</h2>
 *
 * A log is in use when <b>a replica holds an entry</b> (accepted or learned, or truncated away:
 * {@link #holdsEntries}) or when <b>a quorum of its replicas is VOTING and one of them has
 * promised</b> (a writer may have been elected). Then an EMPTY replica becomes RECOVERING and
 * copies a quorum's state before it votes, and {@code initialize} changes nothing. Otherwise, with
 * no entry anywhere, the log is <em>half initialized</em>: EMPTY replicas wait, and {@code
 * initialize} makes them VOTING, each starting with the highest promise any voting replica holds.
 * With an entry somewhere but fewer than a quorum VOTING, a majority lost its data: {@code
 * initialize} refuses and says so.
 *
 * <h2>Why it is safe</h2>
 *
 * Making an EMPTY replica VOTING with nothing is harmless if it never voted: it holds nothing
 * because it accepted nothing. It is dangerous only if it is a <em>wiped</em> replica that forgot
 * promises or acceptances a quorum argument relies on — and a replica cannot tell the two apart. So
 * the question is what a forgotten vote could have been part of:
 *
 * <ul>
 *   <li><b>A chosen value</b> needs a quorum of acceptances, and accepting needs a writer elected
 *       by a quorum of promises. Each member of that quorum either still holds the value (an entry:
 *       the log is in use) or lost its disk. So "no entry anywhere" means nothing was chosen,
 *       unless every acceptor of every chosen value lost its data — a quorum, which Paxos does not
 *       survive and nobody can detect from what is left.
 *   <li><b>A promise alone</b> means nothing was chosen: a campaign may have reached only the
 *       replicas voting at the time and failed. This is the race found on a real node: the install
 *       Job had made one replica VOTING, a master's campaign made it promise, and the old rule ("a
 *       promise or an entry means in use") sent the two EMPTY replicas to RECOVERING, where one
 *       voting replica can never give them the quorum they copy from: stuck for good. A promise
 *       does not make a log in use; the rest of the initialize completes it.
 *   <li><b>Fencing.</b> A deposed writer is kept out by the promises of the quorum that elected its
 *       successor: every quorum it could write to holds a replica that promised more.
 *       Re-initialized replicas with no promise could form such a quorum with each other (three
 *       replicas, the initialize reached 0 and 1, two writers elected in turn, nothing written yet,
 *       replica 1 wiped: 0 alone remembers the newer ballot, and fresh 1 and 2 would take the old
 *       writer's writes, then the newer writer's at the same positions). So {@code initialize}
 *       gives every replica it makes VOTING the highest promise found among the voting replicas:
 *       whatever election completed is remembered by a surviving member of its quorum (unless the
 *       whole quorum lost its data), so every writer it deposed stays fenced on the new replicas
 *       too. A higher promise is only a stricter acceptor; the newest writer keeps its ballot.
 *   <li><b>Lost promises.</b> A promise that a wiped replica forgot and nobody else holds was part
 *       of no completed election (a completed one had a quorum, and a survivor of it holds the
 *       promise): forgetting it changes nothing.
 *   <li><b>A quorum VOTING with a promise</b> counts as in use although it may hold no entry yet: a
 *       writer may have been elected, and a wiped replica beside such a quorum is exactly the case
 *       recovery is for (it copies the quorum's highest promise, so fencing holds). A quorum VOTING
 *       with <em>no</em> promise has elected nobody (a completed election's quorum shares a member
 *       with it, and that member would hold the promise unless it lost its data), so an EMPTY
 *       replica beside it has nothing to copy and waits to be initialized. It must not count: every
 *       initialize passes through "a quorum votes, the last replicas are still EMPTY", and the last
 *       replica's probe found that moment readily (the tool's own test saw replica 2 go RECOVERING
 *       between the initialize requests to replicas 1 and 2), turning an ordinary install into a
 *       recovery.
 *   <li><b>A majority that lost its data.</b> A log reaches fewer than a quorum VOTING, once a
 *       quorum had voted, only when a quorum of replicas lost their disks (a voting replica stops
 *       voting only by losing its data). If anyone still holds an entry, values may have been
 *       chosen that no replica holds any more; re-initializing would silently drop them, so {@code
 *       initialize} refuses and says so (and the EMPTY replicas, seeing an entry, go RECOVERING and
 *       wait for a quorum that only an operator can bring back). If nobody holds an entry either,
 *       it is indistinguishable from a half-initialized log: no rule can tell, and completing it is
 *       as safe as the promises kept by the survivors make it.
 * </ul>
 *
 * Replicas that did not answer could be VOTING and hold the promises or entries that decide: so
 * {@code initialize} makes replicas VOTING only when every replica answered (it needs only a
 * quorum's answers to say the log is in use). One assumption remains: no replica is wiped while an
 * {@code initialize} runs (between its status questions and its initialize requests).
 */
public final class LogUse {
  private LogUse() {}

  /** Whether a replica holds an entry of its log: accepted or learned, or truncated away. */
  public static boolean holdsEntries(StatusResponse s) {
    return s.getEnd() > 0 || s.getLearnedThrough() > 0 || s.getBegin() > 1;
  }

  /**
   * For an EMPTY replica: the log it must rebuild before voting, given the status answers of the
   * VOTING peers it has heard from; null when it should wait to be initialized.
   */
  static String toRecover(Collection<StatusResponse> votingPeers, Quorum quorum) {
    Map<String, Integer> voters = new HashMap<>();
    Set<String> promised = new HashSet<>();
    for (StatusResponse s : votingPeers) {
      if (s.getStatus() != ReplicaStatus.VOTING || s.getClusterId().isEmpty()) {
        continue;
      }
      if (holdsEntries(s)) {
        return s.getClusterId();
      }
      voters.merge(s.getClusterId(), 1, Integer::sum);
      if (Ballots.greater(s.getPromised(), Ballots.NONE)) {
        promised.add(s.getClusterId());
      }
    }
    for (Map.Entry<String, Integer> e : voters.entrySet()) {
      if (quorum.reachedBy(e.getValue()) && promised.contains(e.getKey())) {
        return e.getKey();
      }
    }
    return null;
  }

  /** What {@code initialize} found. */
  public enum Verdict {
    /** Make the EMPTY replicas VOTING (a new log, or a half-initialized one). */
    INITIALIZE,
    /** In use: nothing to do (EMPTY replicas recover by themselves). */
    IN_USE,
    /** Some replica belongs to another log. */
    FOREIGN,
    /** Not every replica answered, and those that did do not show the log in use. */
    UNKNOWN,
    /** Entries exist but fewer than a quorum votes: a majority lost its data. */
    DATA_LOST,
    /** Fewer than a quorum votes, nothing is held, and some replica is RECOVERING. */
    STUCK
  }

  /**
   * The decision and what to tell the operator.
   *
   * @param promise with {@link Verdict#INITIALIZE}: the promise each replica made VOTING starts
   *     with
   * @param message one line saying what was found (null for a new log or {@link Verdict#UNKNOWN},
   *     whose line the caller writes with the replicas' errors)
   */
  public record Decision(Verdict verdict, Ballot promise, String message) {}

  /**
   * Decides what {@code initialize(clusterId)} does, from every replica's status ({@code null} for
   * one that did not answer), indexed by replica ID.
   */
  public static Decision decide(String clusterId, List<StatusResponse> replicas) {
    Quorum quorum = new Quorum(replicas.size());
    int n = replicas.size();
    for (int r = 0; r < n; r++) {
      StatusResponse s = replicas.get(r);
      if (s != null && !s.getClusterId().isEmpty() && !s.getClusterId().equals(clusterId)) {
        String other = s.getClusterId();
        String evidence = inUse(other, replicas, quorum);
        return new Decision(
            Verdict.FOREIGN,
            Ballots.NONE,
            evidence != null
                ? "log "
                    + other
                    + " is already in use ("
                    + evidence
                    + "), not initializing log "
                    + clusterId
                : "replica "
                    + r
                    + " is already "
                    + s.getStatus()
                    + " in log "
                    + other
                    + ", not initializing log "
                    + clusterId);
      }
    }
    List<Integer> voting = with(replicas, ReplicaStatus.VOTING);
    List<Integer> recovering = with(replicas, ReplicaStatus.RECOVERING);
    String evidence = inUse(clusterId, replicas, quorum);
    if (evidence != null && quorum.reachedBy(voting.size())) {
      return new Decision(
          Verdict.IN_USE,
          Ballots.NONE,
          "log "
              + clusterId
              + " is initialized and is already in use ("
              + evidence
              + "): nothing to do; a replica that lost its data recovers by itself");
    }
    if (replicas.stream().anyMatch(Objects::isNull)) {
      return new Decision(Verdict.UNKNOWN, Ballots.NONE, null);
    }
    String votes =
        "only " + voting.size() + " of " + n + " replicas vote (" + describe(replicas) + ")";
    if (evidence != null) {
      return new Decision(
          Verdict.DATA_LOST,
          Ballots.NONE,
          "log "
              + clusterId
              + " holds entries ("
              + evidence
              + ") but "
              + votes
              + ": a majority of the replicas lost their data, and entries may have been chosen"
              + " that no replica holds any more; not initializing them afresh. Restore the"
              + " replicas' data, or wipe every replica and initialize a new log");
    }
    if (!recovering.isEmpty() && !quorum.reachedBy(voting.size())) {
      return new Decision(
          Verdict.STUCK,
          Ballots.NONE,
          "log "
              + clusterId
              + ": "
              + votes
              + " and no replica holds an entry; "
              + names(recovering)
              + (recovering.size() == 1 ? " is" : " are")
              + " RECOVERING and cannot finish without a quorum of voting replicas, and"
              + " initialize does not restart a recovering replica. Wipe the RECOVERING replicas'"
              + " data and run initialize again");
    }
    Ballot promise = Ballots.NONE;
    for (int r : voting) {
      promise = Ballots.max(promise, replicas.get(r).getPromised());
    }
    if (voting.isEmpty()) {
      return new Decision(Verdict.INITIALIZE, promise, null);
    }
    List<Integer> empty = with(replicas, ReplicaStatus.EMPTY);
    return new Decision(
        Verdict.INITIALIZE,
        promise,
        "log "
            + clusterId
            + " is half initialized: "
            + names(voting)
            + (voting.size() == 1 ? " votes" : " vote")
            + (quorum.reachedBy(voting.size())
                ? " but none has promised and no replica holds an entry, so no writer was elected"
                : ", fewer than a quorum of "
                    + quorum.size()
                    + ", and no replica holds an entry, so nothing can have been chosen")
            + "; initializing "
            + names(empty)
            + (Ballots.greater(promise, Ballots.NONE)
                ? " with the highest promise found (ballot " + Ballots.toString(promise) + ")"
                : ""));
  }

  /**
   * Why log {@code clusterId} is in use ("replica 2 holds positions up to 7", "3 of 3 replicas
   * vote, replica 0 promised ballot 4.a"), or null when it is not.
   */
  private static String inUse(String clusterId, List<StatusResponse> replicas, Quorum quorum) {
    int best = -1;
    int voting = 0;
    int promised = -1;
    for (int r = 0; r < replicas.size(); r++) {
      StatusResponse s = replicas.get(r);
      if (s == null || !s.getClusterId().equals(clusterId)) {
        continue;
      }
      if (holdsEntries(s) && (best < 0 || s.getEnd() > replicas.get(best).getEnd())) {
        best = r;
      }
      if (s.getStatus() == ReplicaStatus.VOTING) {
        voting++;
        if (Ballots.greater(s.getPromised(), Ballots.NONE)
            && (promised < 0
                || Ballots.greater(s.getPromised(), replicas.get(promised).getPromised()))) {
          promised = r;
        }
      }
    }
    if (best >= 0) {
      StatusResponse s = replicas.get(best);
      return "replica "
          + best
          + " holds positions up to "
          + Math.max(s.getEnd(), Math.max(s.getLearnedThrough(), s.getBegin() - 1));
    }
    return quorum.reachedBy(voting) && promised >= 0
        ? voting
            + " of "
            + replicas.size()
            + " replicas vote, replica "
            + promised
            + " promised ballot "
            + Ballots.toString(replicas.get(promised).getPromised())
        : null;
  }

  private static List<Integer> with(List<StatusResponse> replicas, ReplicaStatus status) {
    List<Integer> out = new ArrayList<>();
    for (int r = 0; r < replicas.size(); r++) {
      if (replicas.get(r) != null && replicas.get(r).getStatus() == status) {
        out.add(r);
      }
    }
    return out;
  }

  private static String names(List<Integer> replicas) {
    return (replicas.size() == 1 ? "replica " : "replicas ")
        + replicas.stream().map(String::valueOf).collect(Collectors.joining(", "));
  }

  private static String describe(List<StatusResponse> replicas) {
    List<String> out = new ArrayList<>();
    for (int r = 0; r < replicas.size(); r++) {
      out.add(r + " " + replicas.get(r).getStatus());
    }
    return String.join(", ", out);
  }
}
