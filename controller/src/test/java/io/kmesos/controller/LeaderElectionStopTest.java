package io.kmesos.controller;

import static org.assertj.core.api.Assertions.assertThat;

import io.javaoperatorsdk.operator.LeaderElectionManager;
import io.javaoperatorsdk.operator.Operator;
import java.lang.reflect.Field;
import org.junit.jupiter.api.Test;

/**
 * The clean stop reaches JOSDK's private leader elector by reflection ({@link
 * ControllerMain#stopLeaderElection}); its fallback is correct but slower, so a JOSDK upgrade that
 * renames or retypes the field must fail here instead of silently slowing every handover.
 */
class LeaderElectionStopTest {

  @Test
  void theOperatorStillHasTheLeaderElectionManagerTheStopHookReaches() throws Exception {
    Field f = Operator.class.getDeclaredField("leaderElectionManager");
    assertThat(LeaderElectionManager.class).isAssignableFrom(f.getType());
  }
}
