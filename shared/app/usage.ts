import type { Caller } from '../domain/caller.js';
import { NO_USAGE, usageView, type QuotaConfig } from '../domain/quota.js';
import type { UsageRepository } from '../ports/usage-repository.js';

/** GET /v2/info/usage: the caller's project's counters against its limits. */
export class UsageQueries {
  constructor(
    private readonly usage: UsageRepository,
    private readonly quotas: QuotaConfig | undefined,
  ) {}

  async ofCaller(caller: Caller) {
    // Glance reports the token's project; without quotas (or a project) there is nothing to report.
    if (!this.quotas || !caller.projectId) return usageView(undefined, '', NO_USAGE);
    const stored = await this.usage.get(caller.projectId);
    return usageView(this.quotas, caller.projectId, stored.usage);
  }
}
