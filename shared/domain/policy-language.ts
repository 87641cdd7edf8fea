/**
 * oslo.policy's check-string language, the subset Glance's rules use: `role:X`, generic
 * `key:value` checks (`project_id:%(project_id)s`, `'community':%(visibility)s`,
 * `is_admin:True`), `rule:NAME`, `@` (always), `!` (never), `not`, `and`, `or` and parentheses,
 * with oslo's precedence (not > and > or). The empty string allows everyone. Pure: parsing
 * happens where configuration is read; evaluation is per request.
 *
 * Where oslo.policy logs a rule it cannot understand and then denies it, this parser throws,
 * so that an operator's mistake stops start-up instead of silently locking everybody out.
 */

/** What oslo.policy's enforcer sees of the caller (Glance's RequestContext.to_policy_values()). */
export interface Credentials {
  roles: readonly string[];
  project_id: string | null;
  user_id: string | null;
  is_admin: boolean;
}

/** A target attribute as a policy reads it; oslo formats it with Python's str(). */
export type TargetValue = string | number | boolean | null | undefined;
export type Target = Readonly<Record<string, TargetValue>>;

/**
 * The parsed check tree. `match` is the right-hand side with its `%(name)s` references still in
 * it; a generic check's `kind` is either a credential path or a Python literal (`'public'`,
 * `True`, `42`), as oslo's GenericCheck treats it.
 */
export type Check =
  | { type: 'true' }
  | { type: 'false' }
  | { type: 'not'; check: Check }
  | { type: 'and'; checks: Check[] }
  | { type: 'or'; checks: Check[] }
  | { type: 'rule'; name: string }
  | { type: 'role'; match: string }
  | { type: 'generic'; kind: string; match: string };

export class PolicySyntaxError extends Error {
  constructor(
    readonly rule: string,
    readonly text: string,
    reason: string,
  ) {
    super(`Policy rule "${rule}" does not parse: ${reason} in "${text}"`);
    this.name = 'PolicySyntaxError';
  }
}

type Token = { kind: '(' | ')' | 'and' | 'or' | 'not' } | { kind: 'check'; check: Check; text: string };

/** oslo's _parse_tokenize: split on whitespace, peel leading '(' and trailing ')' off each word. */
function tokenize(rule: string, text: string): Token[] {
  const tokens: Token[] = [];
  for (const word of text.split(/\s+/)) {
    if (!word) continue;
    let rest = word.replace(/^\(+/, '');
    for (let i = 0; i < word.length - rest.length; i++) tokens.push({ kind: '(' });
    if (!rest) continue;
    const body = rest.replace(/\)+$/, '');
    const trailing = rest.length - body.length;
    rest = body;
    const lowered = rest.toLowerCase();
    if (lowered === 'and' || lowered === 'or' || lowered === 'not') tokens.push({ kind: lowered });
    else if (rest) tokens.push({ kind: 'check', check: parseCheck(rule, rest), text: rest });
    for (let i = 0; i < trailing; i++) tokens.push({ kind: ')' });
  }
  return tokens;
}

/** A Python literal as ast.literal_eval reads the simple ones, rendered as str() would; else undefined. */
export function pythonLiteral(text: string): string | undefined {
  const quoted = /^'([^'\\]*)'$|^"([^"\\]*)"$/.exec(text);
  if (quoted) return quoted[1] ?? quoted[2];
  if (text === 'True' || text === 'False' || text === 'None') return text;
  if (/^-?(0|[1-9]\d*)$/.test(text)) return String(BigInt(text));
  return undefined;
}

const REFERENCE = /%\(([^()]*)\)s|%%|%/g;

/** The `%(name)s` references of a match, checked to be what Python's % formatting accepts. */
function checkMatch(rule: string, text: string, match: string): void {
  for (const [whole] of match.matchAll(REFERENCE)) {
    if (whole === '%') throw new PolicySyntaxError(rule, text, `"%" that is not a %(name)s reference`);
  }
}

function parseCheck(rule: string, text: string): Check {
  if (text === '@') return { type: 'true' };
  if (text === '!') return { type: 'false' };
  const colon = text.indexOf(':');
  if (colon < 0) throw new PolicySyntaxError(rule, text, `check "${text}" has no "kind:match" colon`);
  const kind = text.slice(0, colon);
  const match = text.slice(colon + 1);
  if (!kind) throw new PolicySyntaxError(rule, text, `check "${text}" has an empty kind`);
  checkMatch(rule, text, match);
  if (kind === 'rule') {
    if (!match) throw new PolicySyntaxError(rule, text, `"rule:" names no rule`);
    return { type: 'rule', name: match };
  }
  if (kind === 'role') return { type: 'role', match };
  if (kind === 'http' || kind === 'https') throw new PolicySyntaxError(rule, text, `external "${kind}:" checks are not supported`);
  if (pythonLiteral(kind) === undefined && !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(kind)) {
    throw new PolicySyntaxError(rule, text, `"${kind}" is neither a credential name nor a literal`);
  }
  return { type: 'generic', kind, match };
}

/**
 * Recursive descent with oslo's precedence: or of ands of (not)* atoms. oslo's shift-reduce
 * parser builds the same trees: `a or b and c` is `a or (b and c)`, `not a and b` is
 * `(not a) and b`.
 */
export function parseCheckString(rule: string, text: string): Check {
  if (text.trim() === '') return { type: 'true' };
  const tokens = tokenize(rule, text);
  let at = 0;
  const fail = (reason: string): never => {
    throw new PolicySyntaxError(rule, text, reason);
  };
  const describe = (token: Token | undefined) => (token === undefined ? 'the end' : token.kind === 'check' ? `"${token.text}"` : `"${token.kind}"`);

  const parseOr = (): Check => {
    const checks = [parseAnd()];
    while (tokens[at]?.kind === 'or') {
      at++;
      checks.push(parseAnd());
    }
    return checks.length === 1 ? checks[0]! : { type: 'or', checks };
  };
  const parseAnd = (): Check => {
    const checks = [parseUnary()];
    while (tokens[at]?.kind === 'and') {
      at++;
      checks.push(parseUnary());
    }
    return checks.length === 1 ? checks[0]! : { type: 'and', checks };
  };
  const parseUnary = (): Check => {
    const token = tokens[at];
    if (token?.kind === 'not') {
      at++;
      return { type: 'not', check: parseUnary() };
    }
    if (token?.kind === '(') {
      at++;
      const inner = parseOr();
      if (tokens[at]?.kind !== ')') fail(`expected ")" but found ${describe(tokens[at])}`);
      at++;
      return inner;
    }
    if (token?.kind === 'check') {
      at++;
      return token.check;
    }
    return fail(`expected a check but found ${describe(token)}`);
  };

  const tree = parseOr();
  if (at < tokens.length) fail(`unexpected ${describe(tokens[at])}`);
  return tree;
}

/** The check string of a tree; parsing it gives the same tree back. */
export function printCheck(check: Check): string {
  switch (check.type) {
    case 'true':
      return '@';
    case 'false':
      return '!';
    case 'not':
      return `not ${printCheck(check.check)}`;
    case 'and':
    case 'or':
      return `(${check.checks.map(printCheck).join(` ${check.type} `)})`;
    case 'rule':
      return `rule:${check.name}`;
    case 'role':
      return `role:${check.match}`;
    case 'generic':
      return `${check.kind}:${check.match}`;
  }
}

/** Python's str() of a value: None, True/False, numbers, strings as they are. */
function pythonStr(value: TargetValue): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

/** `match % target`; undefined where a referenced key is missing (oslo's KeyError → deny). */
function substitute(match: string, target: Target): string | undefined {
  let missing = false;
  const result = match.replace(REFERENCE, (whole, name: string | undefined) => {
    if (whole === '%%') return '%';
    // An attribute the target lacks (undefined) is Python's KeyError, as for a missing property.
    if (name === undefined || !Object.hasOwn(target, name) || target[name] === undefined) {
      missing = true;
      return '';
    }
    return pythonStr(target[name]);
  });
  return missing ? undefined : result;
}

function credential(credentials: Credentials, path: string): TargetValue | readonly string[] {
  // Only the credentials oslo.policy is given; anything else (domain_id, ...) is a KeyError.
  if (path === 'roles') return credentials.roles;
  if (path === 'project_id' || path === 'user_id' || path === 'is_admin') return credentials[path];
  return undefined;
}

export interface Evaluation {
  credentials: Credentials;
  target: Target;
  /** The named rules `rule:NAME` refers to; an unknown name is false, as oslo's RuleCheck. */
  rule: (name: string) => Check | undefined;
}

/** Evaluates a check as oslo.policy's Check classes do, short-circuiting left to right. */
export function evaluate(check: Check, context: Evaluation, depth = 0): boolean {
  switch (check.type) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !evaluate(check.check, context, depth);
    case 'and':
      return check.checks.every((c) => evaluate(c, context, depth));
    case 'or':
      return check.checks.some((c) => evaluate(c, context, depth));
    case 'rule': {
      const named = context.rule(check.name);
      if (!named) return false;
      // A rule that refers to itself (directly or not) denies instead of overflowing the stack.
      if (depth > 64) return false;
      return evaluate(named, context, depth + 1);
    }
    case 'role': {
      const role = substitute(check.match, context.target);
      if (role === undefined) return false;
      return context.credentials.roles.some((r) => r.toLowerCase() === role.toLowerCase());
    }
    case 'generic': {
      const match = substitute(check.match, context.target);
      if (match === undefined) return false;
      const literal = pythonLiteral(check.kind);
      if (literal !== undefined) return match === literal;
      const value = credential(context.credentials, check.kind);
      if (value === undefined) return false;
      // A list credential (roles) matches when any element does, as oslo's _find_in_dict.
      if (Array.isArray(value)) return value.some((v) => v === match);
      return pythonStr(value as TargetValue) === match;
    }
  }
}

/** The rule names a check refers to, for validating a policy's `rule:` references. */
export function referencedRules(check: Check): string[] {
  switch (check.type) {
    case 'rule':
      return [check.name];
    case 'not':
      return referencedRules(check.check);
    case 'and':
    case 'or':
      return check.checks.flatMap(referencedRules);
    default:
      return [];
  }
}
