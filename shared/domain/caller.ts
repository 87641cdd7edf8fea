/** Who is calling, as the authorizer established it from a verified token. */
export interface Caller {
  projectId: string | null;
  userId: string | null;
  /**
   * Role names, lower-cased. What they allow is the policy's to say (shared/domain/policy.ts):
   * nothing checks a role by name outside it; admin is the policy's context_is_admin.
   */
  roles: string[];
}

export function makeCaller(projectId: string | null, userId: string | null, roles: string[]): Caller {
  const normalized = roles.map((r) => r.trim().toLowerCase()).filter(Boolean);
  return { projectId, userId, roles: normalized };
}
