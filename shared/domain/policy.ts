import type { Caller } from './caller.js';
import { evaluate, parseCheckString, PolicySyntaxError, referencedRules, type Check, type Credentials } from './policy-language.js';

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

// The check strings of glance/policies/base.py, composed as Glance composes them.
const PROJECT_MEMBER = 'role:member and project_id:%(project_id)s';
const PROJECT_READER = 'role:reader and project_id:%(project_id)s';
const IMAGE_MEMBER_CHECK = 'project_id:%(member_id)s';
const COMMUNITY_VISIBILITY_CHECK = "'community':%(visibility)s";
const PUBLIC_VISIBILITY_CHECK = "'public':%(visibility)s";
const SHARED_VISIBILITY_CHECK = "'shared':%(visibility)s";
const OWNER_OR_IMAGE_MEMBER_OR_WIDER = `project_id:%(project_id)s or ${IMAGE_MEMBER_CHECK} or ${COMMUNITY_VISIBILITY_CHECK} or ${PUBLIC_VISIBILITY_CHECK} or ${SHARED_VISIBILITY_CHECK}`;

export const ADMIN = 'role:admin';
export const ADMIN_OR_PROJECT_MEMBER = `role:admin or (${PROJECT_MEMBER})`;
export const ADMIN_OR_PROJECT_READER = `role:admin or (${PROJECT_READER})`;
export const ADMIN_OR_PROJECT_READER_GET_IMAGE = `role:admin or (role:reader and (${OWNER_OR_IMAGE_MEMBER_OR_WIDER}))`;
export const ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE = `role:admin or (role:member and (${OWNER_OR_IMAGE_MEMBER_OR_WIDER}))`;
export const ADMIN_OR_PROJECT_MEMBER_CREATE_IMAGE = `role:admin or (${PROJECT_MEMBER} and project_id:%(owner)s)`;
export const ADMIN_OR_PROJECT_READER_GET_NAMESPACE = `role:admin or (role:reader and (project_id:%(project_id)s or ${PUBLIC_VISIBILITY_CHECK}))`;
export const ADMIN_OR_SHARED_MEMBER = `role:admin or (role:member and ${IMAGE_MEMBER_CHECK})`;
// Glance writes this one without parentheses around the reader part; precedence makes it the same.
export const ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER = `role:admin or role:reader and (project_id:%(project_id)s or ${IMAGE_MEMBER_CHECK})`;

/**
 * Every rule Glance registers (glance/policies/{base,image,tasks,metadef,cache,discovery}.py),
 * with the secure-RBAC check strings (`enforce_new_defaults = True`), plus Skyglass's own two.
 * An operator's policy file may override any of them and name no other.
 */
export const DEFAULT_RULES: Readonly<Record<string, string>> = Object.freeze({
  // base.py: an empty `default` allows; `context_is_admin` is RequestContext.is_admin.
  default: '',
  context_is_admin: ADMIN,
  // image.py
  add_image: ADMIN_OR_PROJECT_MEMBER_CREATE_IMAGE,
  delete_image: ADMIN_OR_PROJECT_MEMBER,
  get_image: ADMIN_OR_PROJECT_READER_GET_IMAGE,
  get_images: ADMIN_OR_PROJECT_READER,
  modify_image: ADMIN_OR_PROJECT_MEMBER,
  publicize_image: ADMIN,
  communitize_image: ADMIN_OR_PROJECT_MEMBER,
  download_image: ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE,
  upload_image: ADMIN_OR_PROJECT_MEMBER,
  delete_image_location: ADMIN,
  get_image_location: ADMIN_OR_PROJECT_READER,
  set_image_location: ADMIN_OR_PROJECT_MEMBER,
  add_member: ADMIN_OR_PROJECT_MEMBER,
  delete_member: ADMIN_OR_PROJECT_MEMBER,
  get_member: ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER,
  get_members: ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER,
  modify_member: ADMIN_OR_SHARED_MEMBER,
  manage_image_cache: ADMIN,
  deactivate: ADMIN_OR_PROJECT_MEMBER,
  reactivate: ADMIN_OR_PROJECT_MEMBER,
  copy_image: ADMIN,
  // tasks.py: the task rules defer to `default`; the tasks API itself is admin only.
  get_task: 'rule:default',
  get_tasks: 'rule:default',
  add_task: 'rule:default',
  modify_task: 'rule:default',
  tasks_api_access: ADMIN,
  // metadef.py
  metadef_default: '',
  metadef_admin: ADMIN,
  get_metadef_namespace: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  get_metadef_namespaces: ADMIN_OR_PROJECT_READER,
  modify_metadef_namespace: 'rule:metadef_admin',
  add_metadef_namespace: 'rule:metadef_admin',
  delete_metadef_namespace: 'rule:metadef_admin',
  get_metadef_object: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  get_metadef_objects: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  modify_metadef_object: 'rule:metadef_admin',
  add_metadef_object: 'rule:metadef_admin',
  delete_metadef_object: 'rule:metadef_admin',
  list_metadef_resource_types: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  get_metadef_resource_type: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  add_metadef_resource_type_association: 'rule:metadef_admin',
  remove_metadef_resource_type_association: 'rule:metadef_admin',
  get_metadef_property: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  get_metadef_properties: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  modify_metadef_property: 'rule:metadef_admin',
  add_metadef_property: 'rule:metadef_admin',
  remove_metadef_property: 'rule:metadef_admin',
  get_metadef_tag: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  get_metadef_tags: ADMIN_OR_PROJECT_READER_GET_NAMESPACE,
  modify_metadef_tag: 'rule:metadef_admin',
  add_metadef_tag: 'rule:metadef_admin',
  add_metadef_tags: 'rule:metadef_admin',
  delete_metadef_tag: 'rule:metadef_admin',
  delete_metadef_tags: 'rule:metadef_admin',
  // cache.py
  cache_image: ADMIN,
  cache_list: ADMIN,
  cache_delete: ADMIN,
  // discovery.py
  stores_info_detail: ADMIN,
  // Skyglass: glance-scrubber --restore and an immediate scrub, operator actions in Glance.
  restore_image: ADMIN,
  scrub_image: ADMIN,
});

/** An operator's policy (file or configuration) that Skyglass cannot apply; the message names the rule. */
export class PolicyConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyConfigurationError';
  }
}

/** The caller as oslo.policy's enforcer sees it (Glance's RequestContext.to_policy_values()). */
function credentialsOf(caller: Caller, isAdmin: boolean): Credentials {
  return { roles: caller.roles, project_id: caller.projectId, user_id: caller.userId, is_admin: isAdmin };
}

/**
 * Glance's defaults with an operator's overrides (rule name → check string) applied. Every
 * check string is parsed here, once, so a broken policy fails where it is configured (synth,
 * start-up, cold start), never on a request.
 * @throws PolicyConfigurationError for an override that names a rule Glance does not know, a
 *   check string that does not parse, or a `rule:NAME` that refers to no rule.
 */
export function createPolicy(overrides: Readonly<Record<string, unknown>> = {}): PolicyEngine {
  const texts = new Map(Object.entries(DEFAULT_RULES));
  for (const [name, text] of Object.entries(overrides)) {
    if (!texts.has(name)) throw new PolicyConfigurationError(`Policy rule "${name}" is not a Glance policy rule, so it cannot be overridden`);
    if (typeof text !== 'string') throw new PolicyConfigurationError(`Policy rule "${name}" must be a check string, not ${JSON.stringify(text)}`);
    texts.set(name, text);
  }
  const rules = new Map<string, Check>();
  for (const [name, text] of texts) {
    try {
      rules.set(name, parseCheckString(name, text));
    } catch (error) {
      if (error instanceof PolicySyntaxError) throw new PolicyConfigurationError(error.message);
      throw error;
    }
  }
  for (const [name, check] of rules) {
    const unknown = referencedRules(check).find((ref) => !rules.has(ref));
    if (unknown) throw new PolicyConfigurationError(`Policy rule "${name}" refers to rule:${unknown}, which is not a policy rule, in "${texts.get(name)}"`);
  }

  const rule = (name: string) => rules.get(name);
  const check = (name: string, caller: Caller, target: PolicyTarget, isAdmin: boolean) => {
    const found = rules.get(name);
    if (!found) throw new Error(`Policy rule ${name} is not registered`);
    return evaluate(found, { credentials: credentialsOf(caller, isAdmin), target, rule });
  };
  // Glance computes is_admin from context_is_admin with is_admin still false, against the context itself.
  const isAdmin = (caller: Caller) => check('context_is_admin', caller, { project_id: caller.projectId, user_id: caller.userId }, false);

  return {
    allows: (name, caller, target) => check(name, caller, target, isAdmin(caller)),
    isAdmin,
  };
}

/**
 * Glance's secure-RBAC defaults, untouched by any policy file (the tests' policy). Marked pure so
 * that a bundle, which asks policy() (shared/app/policy-config.ts) instead, drops it: built at
 * import, it parsed every rule in every function's cold start, for nothing.
 */
export const defaultPolicy: PolicyEngine = /* @__PURE__ */ createPolicy();
