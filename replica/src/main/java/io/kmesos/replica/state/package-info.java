/**
 * Versioned variables on the replicated log ({@link io.kmesos.replica.state.State}), with snapshots
 * and truncation so that recovery reads a bounded amount: the store the registry lives in.
 */
package io.kmesos.replica.state;
