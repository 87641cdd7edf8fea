import type { Caller } from './caller.js';

/**
 * What a policy rule is checked against: Glance's ImageTarget (every image attribute and
 * custom property by name, `project_id` = the image's owner, `member_id` = the caller's project
 * when the caller is a member of the image, else null), or for a create the proposed image.
 */
export type PolicyTarget = Readonly<Record<string, string | number | boolean | null | undefined>>;

/**
 * The one place that decides who may do what, by Glance's rule names (`add_image`,
 * `get_image`, `modify_member`, ...). Handlers and use cases ask it; none checks roles itself.
 */
export interface PolicyEngine {
  /** Whether `rule` allows `caller` on `target`. A rule the engine does not know throws. */
  allows(rule: string, caller: Caller, target: PolicyTarget): boolean;
  /** Glance's `context_is_admin` (the RequestContext's is_admin): sees every image, may set owner. */
  isAdmin(caller: Caller): boolean;
}

// SEAM (lead): a hand-written stand-in for Glance's secure-RBAC defaults so callers can be built
// against the interface now; the policy engine (check-string parser, policy files) replaces it.
// Keystone's default implied roles (admin ⇒ member ⇒ reader) are in every Keystone token, so a
// `member` token may do what `reader` may; tokens here carry only the roles they name.
const IMPLIED_BY: Record<string, string[]> = { reader: ['reader', 'member', 'admin'], member: ['member', 'admin'] };
const hasRole = (caller: Caller, role: string) => (IMPLIED_BY[role] ?? [role]).some((r) => caller.roles.includes(r));
const ownProject = (caller: Caller, target: PolicyTarget) => caller.projectId !== null && caller.projectId === target.project_id;
const imageMember = (caller: Caller, target: PolicyTarget) => caller.projectId !== null && caller.projectId === target.member_id;
const sharedOrWider = (target: PolicyTarget) => ['community', 'public', 'shared'].includes(String(target.visibility));

const admin = (c: Caller) => hasRole(c, 'admin');
const adminOrProjectMember = (c: Caller, t: PolicyTarget) => admin(c) || (hasRole(c, 'member') && ownProject(c, t));
const adminOrProjectReader = (c: Caller, t: PolicyTarget) => admin(c) || (hasRole(c, 'reader') && ownProject(c, t));

const STAND_IN_RULES: Record<string, (caller: Caller, target: PolicyTarget) => boolean> = {
  context_is_admin: admin,
  add_image: (c, t) => admin(c) || (hasRole(c, 'member') && ownProject(c, t) && c.projectId === t.owner),
  modify_image: adminOrProjectMember,
  delete_image: adminOrProjectMember,
  upload_image: adminOrProjectMember,
  communitize_image: adminOrProjectMember,
  deactivate: adminOrProjectMember,
  reactivate: adminOrProjectMember,
  add_member: adminOrProjectMember,
  delete_member: adminOrProjectMember,
  get_images: adminOrProjectReader,
  get_image: (c, t) => admin(c) || (hasRole(c, 'reader') && (ownProject(c, t) || imageMember(c, t) || sharedOrWider(t))),
  download_image: (c, t) => admin(c) || (hasRole(c, 'member') && (ownProject(c, t) || imageMember(c, t) || sharedOrWider(t))),
  get_member: (c, t) => admin(c) || (hasRole(c, 'reader') && (ownProject(c, t) || imageMember(c, t))),
  get_members: (c, t) => admin(c) || (hasRole(c, 'reader') && (ownProject(c, t) || imageMember(c, t))),
  modify_member: (c, t) => admin(c) || (hasRole(c, 'member') && imageMember(c, t)),
  publicize_image: admin,
  copy_image: admin,
  delete_image_location: admin,
};

export const defaultPolicy: PolicyEngine = {
  allows(rule, caller, target) {
    const check = STAND_IN_RULES[rule];
    if (!check) throw new Error(`Policy rule ${rule} is not registered`);
    return check(caller, target);
  },
  isAdmin: (caller) => admin(caller),
};
