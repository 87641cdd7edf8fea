import type { Usage } from '../domain/quota.js';

/** One project's usage counters as stored, with the version every change of them increments. */
export interface StoredUsage {
  project: string;
  usage: Usage;
  /** 0 for a project whose counters were never written. */
  version: number;
}

/**
 * The per-project usage counters. The image repository changes them, in the same transaction
 * as each image write; this port reads them (GET /v2/info/usage) and lets the auditor repair
 * them.
 */
export interface UsageRepository {
  /** One project's counters (zero if never written); a strongly consistent read. */
  get(project: string): Promise<StoredUsage>;
  /** Every project's counters (an index Query: eventually consistent). */
  all(): AsyncIterable<StoredUsage>;
  /**
   * Sets the counters to `usage` if they are still at `stored.version` (nothing changed them
   * since they were read); false if they changed, and then nothing is written.
   */
  repair(stored: StoredUsage, usage: Usage): Promise<boolean>;
}
