import { defaultPolicy, type PolicyEngine } from '../domain/policy.js';

/**
 * The policy every use case asks, built once per process. Today Glance's defaults; the policy
 * engine issue makes it the defaults with the operator's overrides (POLICY_OVERRIDES) applied.
 */
export function policy(): PolicyEngine {
  return defaultPolicy;
}
