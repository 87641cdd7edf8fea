import type { Caller } from './caller.js';

/**
 * Glance's property protections, `property_protection_rule_format = roles`
 * (glance/common/property_utils.py): an INI file whose sections are regular expressions of
 * property names, each with `create`, `read`, `update` and `delete` = a comma-separated list of
 * roles, `@` (everyone) or `!` (nobody). The first section (in file order) whose expression
 * matches anywhere in the name decides; once any rule exists, a property no section matches is
 * refused to everyone, as in Glance.
 */
export type PropertyOperation = 'create' | 'read' | 'update' | 'delete';
export const PROPERTY_OPERATIONS: readonly PropertyOperation[] = ['create', 'read', 'update', 'delete'];

/** One section, in the form configuration carries it (PROPERTY_PROTECTIONS is their JSON). */
export interface PropertyRule {
  pattern: string;
  create: string[];
  read: string[];
  update: string[];
  delete: string[];
}

export class PropertyProtectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PropertyProtectionError';
  }
}

/**
 * The sections of a property protection file, read as Python's configparser reads them (the
 * DEFAULT section's options apply to every section), and validated as Glance validates them.
 * @throws PropertyProtectionError naming the file, the section and what is wrong.
 */
export function parsePropertyProtections(text: string, file: string): PropertyRule[] {
  const sections: Array<{ name: string; options: Map<string, string> }> = [];
  const defaults = new Map<string, string>();
  let current: Map<string, string> | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    const where = `${file} line ${index + 1}`;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[(.+)\]/.exec(line);
    if (header) {
      const name = header[1]!;
      if (name === 'DEFAULT') {
        current = defaults;
        return;
      }
      if (sections.some((s) => s.name === name)) throw new PropertyProtectionError(`Property protection file ${where}: section [${name}] appears twice`);
      current = new Map();
      sections.push({ name, options: current });
      return;
    }
    const option = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!option || /^\s/.test(raw)) throw new PropertyProtectionError(`Property protection file ${where}: expected [section] or "operation = roles", found "${line}"`);
    if (!current) throw new PropertyProtectionError(`Property protection file ${where}: "${line}" is outside any [section]`);
    current.set(option[1]!.toLowerCase(), option[2]!);
  });

  return sections.map(({ name, options }) => {
    try {
      new RegExp(name);
    } catch (error) {
      throw new PropertyProtectionError(`Property protection file ${file}: section [${name}] is not a valid regular expression: ${(error as Error).message}`);
    }
    const rule: PropertyRule = { pattern: name, create: [], read: [], update: [], delete: [] };
    for (const operation of PROPERTY_OPERATIONS) {
      const value = options.get(operation) ?? defaults.get(operation);
      if (value === undefined) throw new PropertyProtectionError(`Property protection file ${file}: section [${name}] has no "${operation}" (every section needs create, read, update and delete)`);
      const roles = value.trim() === '' ? [] : value.split(',').map((role) => role.trim());
      if (roles.includes('@') && roles.includes('!')) {
        throw new PropertyProtectionError(`Property protection file ${file}: section [${name}] ${operation} = ${value}: '@' and '!' are mutually exclusive`);
      }
      rule[operation] = roles;
    }
    return rule;
  });
}

/** Who may do what with each custom property; with no rules, everyone may do everything. */
export class PropertyProtections {
  private readonly compiled: Array<{ expression: RegExp; rule: PropertyRule }>;

  constructor(rules: readonly PropertyRule[]) {
    this.compiled = rules.map((rule) => ({ expression: new RegExp(rule.pattern), rule }));
  }

  get enabled(): boolean {
    return this.compiled.length > 0;
  }

  allows(caller: Caller, name: string, operation: PropertyOperation): boolean {
    if (!this.enabled) return true;
    const match = this.compiled.find(({ expression }) => expression.test(name));
    if (!match) return false;
    const roles = match.rule[operation];
    if (roles.includes('!')) return false;
    if (roles.includes('@')) return true;
    return roles.some((role) => caller.roles.includes(role.toLowerCase()));
  }

  /** The properties the caller may read; the others are as if absent. */
  readable(caller: Caller, properties: Readonly<Record<string, string>>): Record<string, string> {
    const record = Object.create(null) as Record<string, string>;
    for (const [key, value] of Object.entries(properties)) {
      if (this.allows(caller, key, 'read')) Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return record;
  }

  /**
   * Glance's ExtraPropertiesProxy on a change from `before` to `after` (both as the caller reads
   * them): a new key needs create, a changed value update, a removed key delete.
   * @returns the first property the caller may not so change, or undefined
   */
  refusedChange(caller: Caller, before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): string | undefined {
    if (!this.enabled) return undefined;
    for (const [key, value] of Object.entries(after)) {
      if (!Object.hasOwn(before, key)) {
        if (!this.allows(caller, key, 'create')) return key;
      } else if (before[key] !== value && !this.allows(caller, key, 'update')) return key;
    }
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key) && !this.allows(caller, key, 'delete')) return key;
    return undefined;
  }
}
