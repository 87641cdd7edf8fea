import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  evaluate,
  parseCheckString,
  printCheck,
  PolicySyntaxError,
  type Check,
  type Credentials,
  type Target,
} from '../../shared/domain/policy-language.js';

const member: Credentials = { roles: ['member', 'reader'], project_id: 'p1', user_id: 'u1', is_admin: false };

function allows(text: string, credentials: Credentials = member, target: Target = {}, rules: Record<string, string> = {}): boolean {
  return evaluate(parseCheckString('test', text), {
    credentials,
    target,
    rule: (name) => (name in rules ? parseCheckString(name, rules[name]!) : undefined),
  });
}

describe('policy language: parsing', () => {
  it('reads the empty string as always, @ as always and ! as never', () => {
    expect(parseCheckString('r', '')).toEqual({ type: 'true' });
    expect(parseCheckString('r', '   ')).toEqual({ type: 'true' });
    expect(parseCheckString('r', '@')).toEqual({ type: 'true' });
    expect(parseCheckString('r', '!')).toEqual({ type: 'false' });
  });

  it('binds not tighter than and, and tighter than or (oslo precedence)', () => {
    expect(parseCheckString('r', 'role:a or role:b and role:c')).toEqual({
      type: 'or',
      checks: [
        { type: 'role', match: 'a' },
        { type: 'and', checks: [{ type: 'role', match: 'b' }, { type: 'role', match: 'c' }] },
      ],
    });
    expect(parseCheckString('r', 'not role:a and role:b')).toEqual({
      type: 'and',
      checks: [{ type: 'not', check: { type: 'role', match: 'a' } }, { type: 'role', match: 'b' }],
    });
  });

  it("parses Glance's composite defaults, with parentheses glued to checks and %(name)s references", () => {
    const tree = parseCheckString(
      'get_image',
      "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s))",
    );
    expect(printCheck(tree)).toBe("(role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s)))");
  });

  it('accepts AND / OR / NOT in any case, as oslo', () => {
    expect(allows('role:admin OR role:member')).toBe(true);
    expect(allows('NOT role:member')).toBe(false);
  });

  it.each([
    ['role:admin or', 'expected a check but found the end'],
    ['(role:admin', 'expected ")" but found the end'],
    ['role:admin)', 'unexpected ")"'],
    ['role:admin role:member', 'unexpected "role:member"'],
    ['and role:admin', 'expected a check but found "and"'],
    ['admin', 'check "admin" has no "kind:match" colon'],
    ['rule:', '"rule:" names no rule'],
    ['http://policy.example/check:x', 'external "http:" checks are not supported'],
    ['project_id:100%', '"%" that is not a %(name)s reference'],
    ['bad-kind:x', '"bad-kind" is neither a credential name nor a literal'],
  ])('refuses %j, naming the rule and the text', (text, reason) => {
    let error: unknown;
    try {
      parseCheckString('modify_image', text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicySyntaxError);
    expect((error as Error).message).toBe(`Policy rule "modify_image" does not parse: ${reason} in "${text}"`);
  });
});

describe('policy language: evaluation as oslo.policy', () => {
  it('matches roles case-insensitively', () => {
    expect(allows('role:MEMBER')).toBe(true);
    expect(allows('role:admin')).toBe(false);
    expect(allows('role:%(wanted)s', member, { wanted: 'reader' })).toBe(true);
  });

  it('compares a credential with a target attribute', () => {
    expect(allows('project_id:%(project_id)s', member, { project_id: 'p1' })).toBe(true);
    expect(allows('project_id:%(project_id)s', member, { project_id: 'p2' })).toBe(false);
    expect(allows('user_id:%(user_id)s', member, { user_id: 'u1' })).toBe(true);
  });

  it('denies a check whose target key is missing (KeyError)', () => {
    expect(allows('project_id:%(project_id)s', member, {})).toBe(false);
    expect(allows('not project_id:%(project_id)s', member, {})).toBe(true);
  });

  it('renders None, True and False as Python does', () => {
    const anonymous: Credentials = { roles: [], project_id: null, user_id: null, is_admin: false };
    expect(allows('project_id:%(owner)s', anonymous, { owner: null })).toBe(true);
    expect(allows('project_id:%(owner)s', member, { owner: null })).toBe(false);
    expect(allows('is_admin:True', { ...member, is_admin: true })).toBe(true);
    expect(allows('is_admin:True', member)).toBe(false);
    expect(allows('True:%(protected)s', member, { protected: true })).toBe(true);
    expect(allows('True:%(protected)s', member, { protected: false })).toBe(false);
  });

  it('compares a literal kind with the target', () => {
    expect(allows("'public':%(visibility)s", member, { visibility: 'public' })).toBe(true);
    expect(allows('"public":%(visibility)s', member, { visibility: 'shared' })).toBe(false);
    expect(allows('42:%(min_ram)s', member, { min_ram: 42 })).toBe(true);
  });

  it('compares a literal right-hand side verbatim, quotes included, as oslo', () => {
    expect(allows('project_id:p1')).toBe(true);
    expect(allows("project_id:'p1'")).toBe(false);
    expect(allows('roles:reader')).toBe(true);
  });

  it('denies an unknown credential, and an unknown rule:NAME', () => {
    expect(allows('domain_id:d1')).toBe(false);
    expect(allows('rule:nowhere')).toBe(false);
  });

  it('follows rule:NAME, and denies a rule that refers to itself', () => {
    expect(allows('rule:owner', member, { project_id: 'p1' }, { owner: 'project_id:%(project_id)s' })).toBe(true);
    expect(allows('rule:loop', member, {}, { loop: 'rule:loop' })).toBe(false);
  });
});

// Random check trees: role atoms whose truth a credential set decides, combined with and/or/not.
const ROLE_NAMES = ['a', 'b', 'c', 'd', 'e'];
const atom: fc.Arbitrary<Check> = fc.oneof(
  fc.constantFrom(...ROLE_NAMES).map((match): Check => ({ type: 'role', match })),
  fc.constant<Check>({ type: 'true' }),
  fc.constant<Check>({ type: 'false' }),
  fc.constantFrom('project_id:%(project_id)s', "'shared':%(visibility)s", 'is_admin:True', 'rule:named').map((text) => parseCheckString('atom', text)),
);
const { tree } = fc.letrec<{ tree: Check }>((self) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    self('tree').map((check): Check => ({ type: 'not', check })),
    fc.array(self('tree'), { minLength: 2, maxLength: 4 }).map((checks): Check => ({ type: 'and', checks })),
    fc.array(self('tree'), { minLength: 2, maxLength: 4 }).map((checks): Check => ({ type: 'or', checks })),
  ),
}));

/** The reference: boolean algebra over the tree, independent of the evaluator's oslo details. */
function reference(check: Check, roles: Set<string>, projectMatches: boolean, shared: boolean, admin: boolean): boolean {
  switch (check.type) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !reference(check.check, roles, projectMatches, shared, admin);
    case 'and':
      return check.checks.every((c) => reference(c, roles, projectMatches, shared, admin));
    case 'or':
      return check.checks.some((c) => reference(c, roles, projectMatches, shared, admin));
    case 'role':
      return roles.has(check.match);
    case 'rule':
      return roles.has('a');
    case 'generic':
      if (check.kind === 'project_id') return projectMatches;
      if (check.kind === 'is_admin') return admin;
      return shared;
  }
}

/** Prints with as few parentheses as oslo's precedence allows, so the parser's precedence is what is tested. */
function printMinimal(check: Check, parent: 'or' | 'and' | 'not' | 'top' = 'top'): string {
  if (check.type === 'and' || check.type === 'or') {
    const text = check.checks.map((c) => printMinimal(c, check.type as 'and' | 'or')).join(` ${check.type} `);
    const needsParens = parent === 'not' || (parent === 'and' && check.type === 'or') || parent === check.type;
    return needsParens ? `(${text})` : text;
  }
  if (check.type === 'not') return `not ${printMinimal(check.check, 'not')}`;
  return printCheck(check);
}

describe('policy language: properties', () => {
  it('parses what it prints back to the same tree', () => {
    fc.assert(
      fc.property(tree, (check) => {
        expect(parseCheckString('r', printCheck(check))).toEqual(check);
      }),
      { seed: 9, numRuns: 300 },
    );
  });

  it('evaluates random and/or/not trees, printed with minimal parentheses, as boolean algebra does', () => {
    fc.assert(
      fc.property(
        tree,
        fc.subarray(ROLE_NAMES),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (check, roles, projectMatches, shared, admin) => {
          const credentials: Credentials = { roles, project_id: 'p1', user_id: 'u1', is_admin: admin };
          const target: Target = { project_id: projectMatches ? 'p1' : 'p2', visibility: shared ? 'shared' : 'private' };
          const parsed = parseCheckString('r', printMinimal(check));
          const named = parseCheckString('named', 'role:a');
          const got = evaluate(parsed, { credentials, target, rule: (name) => (name === 'named' ? named : undefined) });
          expect(got).toBe(reference(check, new Set(roles), projectMatches, shared, admin));
        },
      ),
      { seed: 9, numRuns: 500 },
    );
  });
});
