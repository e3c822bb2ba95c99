package io.kmesos.master.server;

import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.Operation;
import java.util.List;

/**
 * Where the master keeps its frameworks: the registry, through the controller's registrar. The
 * master reads them once when it starts leading ({@link io.kmesos.master.core.MasterCore
 * #recoverFrameworks}) and stores every {@link io.kmesos.master.core.FrameworkRecord} the core
 * emits before it carries out anything else of the same input (so a framework never learns an ID
 * the registry does not hold).
 */
public interface FrameworkStore {

  /** The frameworks the recovered registry holds. */
  List<Framework> frameworks();

  /**
   * Stores one change and returns once it is committed.
   *
   * @throws Exception if it was not committed: the master can no longer keep its promises and gives
   *     up (see {@link #failed})
   */
  void store(Operation operation) throws Exception;

  /**
   * A store failed: this master must stop being one (the controller gives up mastership and the
   * next master recovers from what was committed). Called once.
   */
  void failed(String why);
}
