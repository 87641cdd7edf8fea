import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../shared/routes.js';
import { makeCaller } from '../../shared/domain/caller.js';
import { createPolicy, defaultPolicy, DEFAULT_RULES, PolicyConfigurationError, type PolicyTarget } from '../../shared/domain/policy.js';

// Personas as Keystone issues them (member implies reader), against images owned by project A.
const PERSONAS = {
  admin: makeCaller('ops', 'u-admin', ['admin', 'member', 'reader']),
  ownerMember: makeCaller('A', 'u-a', ['member', 'reader']),
  ownerReader: makeCaller('A', 'u-a-reader', ['reader']),
  sharedMember: makeCaller('B', 'u-b', ['member', 'reader']),
  sharedReader: makeCaller('B', 'u-b-reader', ['reader']),
  otherMember: makeCaller('C', 'u-c', ['member', 'reader']),
  anonymous: makeCaller(null, null, []),
} as const;
type Persona = keyof typeof PERSONAS;

/** An image of project A as ImageTarget shows it to the caller: member_id is B for B's callers (B is a member). */
function target(persona: Persona, visibility: string): PolicyTarget {
  const caller = PERSONAS[persona];
  return { id: 'img', owner: 'A', project_id: 'A', visibility, member_id: caller.projectId === 'B' ? 'B' : null };
}

function who(rule: string, visibility = 'shared'): Persona[] {
  return (Object.keys(PERSONAS) as Persona[]).filter((p) => defaultPolicy.allows(rule, PERSONAS[p], target(p, visibility)));
}

describe("Glance's secure-RBAC defaults by persona", () => {
  it.each([
    'modify_image',
    'delete_image',
    'upload_image',
    'communitize_image',
    'deactivate',
    'reactivate',
    'add_member',
    'delete_member',
    'set_image_location',
  ])('%s: admin or a member of the owner project', (rule) => {
    expect(who(rule)).toEqual(['admin', 'ownerMember']);
  });

  it.each(['publicize_image', 'copy_image', 'delete_image_location', 'manage_image_cache', 'cache_image', 'cache_list', 'cache_delete', 'stores_info_detail', 'tasks_api_access', 'restore_image', 'scrub_image', 'context_is_admin'])(
    '%s: admin only',
    (rule) => {
      expect(who(rule)).toEqual(['admin']);
    },
  );

  it('get_images and get_image_location: admin or a reader of the (caller\'s) project', () => {
    expect(who('get_images')).toEqual(['admin', 'ownerMember', 'ownerReader']);
    expect(who('get_image_location')).toEqual(['admin', 'ownerMember', 'ownerReader']);
  });

  it('get_image: admin, readers of the owner, image members, and any reader for shared/community/public', () => {
    expect(who('get_image', 'private')).toEqual(['admin', 'ownerMember', 'ownerReader', 'sharedMember', 'sharedReader']);
    for (const visibility of ['shared', 'community', 'public']) {
      expect(who('get_image', visibility)).toEqual(['admin', 'ownerMember', 'ownerReader', 'sharedMember', 'sharedReader', 'otherMember']);
    }
  });

  it('download_image: the same, with member instead of reader', () => {
    expect(who('download_image', 'private')).toEqual(['admin', 'ownerMember', 'sharedMember']);
    expect(who('download_image', 'public')).toEqual(['admin', 'ownerMember', 'sharedMember', 'otherMember']);
  });

  it('get_member(s): admin, readers of the owner, and the image member; modify_member: admin or the member', () => {
    expect(who('get_member')).toEqual(['admin', 'ownerMember', 'ownerReader', 'sharedMember', 'sharedReader']);
    expect(who('get_members')).toEqual(['admin', 'ownerMember', 'ownerReader', 'sharedMember', 'sharedReader']);
    expect(who('modify_member')).toEqual(['admin', 'sharedMember']);
  });

  it("add_image: admin, or a member creating an image its own project owns", () => {
    const proposed = (owner: string | null): PolicyTarget => ({ project_id: owner, owner, visibility: 'private' });
    expect(defaultPolicy.allows('add_image', PERSONAS.ownerMember, proposed('A'))).toBe(true);
    expect(defaultPolicy.allows('add_image', PERSONAS.ownerMember, proposed('B'))).toBe(false);
    expect(defaultPolicy.allows('add_image', PERSONAS.ownerReader, proposed('A'))).toBe(false);
    expect(defaultPolicy.allows('add_image', PERSONAS.admin, proposed('B'))).toBe(true);
    expect(defaultPolicy.allows('add_image', PERSONAS.anonymous, proposed(null))).toBe(false);
  });

  it('the task rules defer to default, which allows', () => {
    expect(who('get_task')).toEqual(Object.keys(PERSONAS));
    expect(who('add_task')).toEqual(Object.keys(PERSONAS));
  });

  it('metadef: reads for readers of the owner or public namespaces, writes for admin', () => {
    expect(who('get_metadef_namespace', 'public')).toEqual(['admin', 'ownerMember', 'ownerReader', 'sharedMember', 'sharedReader', 'otherMember']);
    expect(who('get_metadef_namespace', 'private')).toEqual(['admin', 'ownerMember', 'ownerReader']);
    expect(who('add_metadef_tag')).toEqual(['admin']);
  });

  it('isAdmin is context_is_admin', () => {
    expect(defaultPolicy.isAdmin(PERSONAS.admin)).toBe(true);
    expect(defaultPolicy.isAdmin(PERSONAS.ownerMember)).toBe(false);
    expect(createPolicy({ context_is_admin: 'role:cloud_admin' }).isAdmin(makeCaller('x', 'y', ['cloud_admin']))).toBe(true);
    expect(createPolicy({ context_is_admin: 'role:cloud_admin' }).isAdmin(PERSONAS.admin)).toBe(false);
  });

  it('knows every rule it is asked about, and throws for one it does not', () => {
    expect(() => defaultPolicy.allows('no_such_rule', PERSONAS.admin, {})).toThrow('Policy rule no_such_rule is not registered');
    // Glance's 60 registered rules and Skyglass's restore_image and scrub_image.
    expect(Object.keys(DEFAULT_RULES)).toHaveLength(62);
    for (const route of ROUTES) if (route.policy) expect(DEFAULT_RULES, route.operationId).toHaveProperty(route.policy);
  });
});

describe('createPolicy(overrides)', () => {
  it('replaces a rule by name and leaves the others alone', () => {
    const policy = createPolicy({ publicize_image: 'role:member', download_image: 'role:admin' });
    expect(policy.allows('publicize_image', PERSONAS.ownerMember, target('ownerMember', 'shared'))).toBe(true);
    expect(policy.allows('download_image', PERSONAS.ownerMember, target('ownerMember', 'shared'))).toBe(false);
    expect(policy.allows('modify_image', PERSONAS.ownerMember, target('ownerMember', 'shared'))).toBe(true);
  });

  it('lets rules refer to each other, and is_admin:True follow context_is_admin', () => {
    const policy = createPolicy({ context_is_admin: 'role:cloud_admin', delete_image: 'is_admin:True or rule:metadef_admin' });
    expect(policy.allows('delete_image', makeCaller('x', 'y', ['cloud_admin']), target('otherMember', 'shared'))).toBe(true);
    expect(policy.allows('delete_image', PERSONAS.admin, target('otherMember', 'shared'))).toBe(true);
    expect(policy.allows('delete_image', PERSONAS.ownerMember, target('ownerMember', 'shared'))).toBe(false);
  });

  it('allows everyone with an empty check string, and nobody with !', () => {
    expect(createPolicy({ get_images: '' }).allows('get_images', PERSONAS.anonymous, {})).toBe(true);
    expect(createPolicy({ get_images: '!' }).allows('get_images', PERSONAS.admin, {})).toBe(false);
  });

  it.each([
    [{ add_images: 'role:admin' }, 'Policy rule "add_images" is not a Glance policy rule, so it cannot be overridden'],
    [{ modify_image: 'role:admin or' }, 'Policy rule "modify_image" does not parse: expected a check but found the end in "role:admin or"'],
    [{ modify_image: ['role:admin'] }, 'Policy rule "modify_image" must be a check string, not ["role:admin"]'],
    [{ modify_image: 'rule:admin_or_owner' }, 'Policy rule "modify_image" refers to rule:admin_or_owner, which is not a policy rule, in "rule:admin_or_owner"'],
  ])('refuses %j with a message naming the rule', (overrides, message) => {
    expect(() => createPolicy(overrides)).toThrow(PolicyConfigurationError);
    expect(() => createPolicy(overrides)).toThrow(message);
  });
});
