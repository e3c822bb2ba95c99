package io.kmesos.controller.reconcile;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.Comparator;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Two resources may name the same role (two Quotas for "analytics", say). The oldest one owns the
 * role's entry in the registry; the others report a conflict until it is deleted, and its cleanup
 * hands the role to the next oldest.
 */
final class RoleOwners<R extends HasMetadata> {
  private final Function<R, String> roleOf;

  RoleOwners(Function<R, String> roleOf) {
    this.roleOf = roleOf;
  }

  /** The other live resources that name the same role as {@code self}. */
  private Stream<R> rivals(Stream<R> all, R self) {
    String role = roleOf.apply(self);
    return all.filter(
        r ->
            !r.getMetadata().getName().equals(self.getMetadata().getName())
                && r.getMetadata().getDeletionTimestamp() == null
                && role.equals(roleOf.apply(r)));
  }

  /** The resource that owns {@code self}'s role: {@code self} unless an older rival exists. */
  R owner(Stream<R> all, R self) {
    return Stream.concat(rivals(all, self), Stream.of(self)).min(OLDEST_FIRST).orElse(self);
  }

  /** Who takes the role over once {@code self} is gone. */
  Optional<R> successor(Stream<R> all, R self) {
    return rivals(all, self).min(OLDEST_FIRST);
  }

  private final Comparator<R> OLDEST_FIRST =
      Comparator.comparing((R r) -> r.getMetadata().getCreationTimestamp())
          .thenComparing(r -> r.getMetadata().getName());
}
