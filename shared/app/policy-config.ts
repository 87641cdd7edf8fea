import { createPolicy, type PolicyEngine } from '../domain/policy.js';

let cached: PolicyEngine | undefined;

/**
 * The policy every use case asks, built once per process: Glance's defaults with the operator's
 * overrides applied. POLICY_OVERRIDES is the compact JSON (rule name → check string) that
 * synthesis or `npm start` made from the policy file after validating it; a value that is not
 * such an object fails the cold start, never a request.
 */
export function policy(): PolicyEngine {
  return (cached ??= createPolicy(overridesFrom(process.env.POLICY_OVERRIDES)));
}

function overridesFrom(raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('POLICY_OVERRIDES is not JSON; it must be an object of Glance rule names to check strings');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('POLICY_OVERRIDES must be an object of Glance rule names to check strings');
  }
  return parsed as Record<string, unknown>;
}
