import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { metadefValidatorsSource } from '../../infra/codegen/metadef-validators.js';
import { GlanceError } from '../../shared/domain/errors.js';
import { checkTagName, parseAssociationBody, parseNamespaceBody, parseObjectBody, parsePropertyBody } from '../../shared/domain/metadef-bodies.js';
import { namespaceSchema, objectSchema, propertySchema, resourceTypeAssociationSchema, tagSchema } from '../../shared/domain/metadef-schemas.js';
import { describeSchemaError } from '../../shared/domain/validate-image.js';
import { makeCaller } from '../../shared/domain/caller.js';

const admin = makeCaller('ops', 'u-admin', ['admin', 'member', 'reader']);

/** What a body's refusal says, or 'accepted'. */
async function outcome(parse: () => unknown): Promise<string> {
  try {
    await parse();
    return 'accepted';
  } catch (error) {
    if (error instanceof GlanceError) return error.message;
    throw error;
  }
}

/**
 * The same schemas compiled at run time with the options the metadefs used before they were
 * compiled at build time (verbose, the regex format checked): the messages must not change.
 */
function runtimeMessage(name: string, schema: Record<string, unknown>, body: unknown): string | undefined {
  const ajv = new Ajv({ strict: false, allErrors: false, verbose: true, formats: { regex: (t: string) => { try { new RegExp(t); return true; } catch { return false; } }, 'date-time': true } });
  const validate = ajv.compile(schema);
  if (validate(body)) return undefined;
  return `Provided object does not match schema '${name}': ${describeSchemaError(validate.errors![0]!)}`;
}

describe('generated metadef validators', () => {
  it('are up to date with the metadef schemas (regenerate with npm run codegen)', () => {
    expect(readFileSync('shared/domain/generated/metadef-validators.js', 'utf8')).toBe(metadefValidatorsSource());
  });

  const cases: Array<[string, () => Record<string, unknown>, unknown, () => unknown]> = [
    ['namespace', namespaceSchema, { namespace: 7 }, () => parseNamespaceBody({ namespace: 7 }, admin, true)],
    ['namespace', namespaceSchema, { namespace: 'n', visibility: 'everyone' }, () => parseNamespaceBody({ namespace: 'n', visibility: 'everyone' }, admin, true)],
    ['namespace', namespaceSchema, { namespace: 'n', bogus: 1 }, () => parseNamespaceBody({ namespace: 'n', bogus: 1 }, admin, true)],
    ['namespace', namespaceSchema, { namespace: 'n', properties: { p: { title: 'P', type: 'strin' } } }, () => parseNamespaceBody({ namespace: 'n', properties: { p: { title: 'P', type: 'strin' } } }, admin, true)],
    ['namespace', namespaceSchema, { namespace: 'x'.repeat(81) }, () => parseNamespaceBody({ namespace: 'x'.repeat(81) }, admin, true)],
    ['object', objectSchema, { name: 'o', properties: { 'a/b~c': { title: 'P', type: 'string', pattern: '(' } } }, () => parseObjectBody({ name: 'o', properties: { 'a/b~c': { title: 'P', type: 'string', pattern: '(' } } })],
    ['object', objectSchema, { name: 'o', required: ['a', 'a'] }, () => parseObjectBody({ name: 'o', required: ['a', 'a'] })],
    ['property', propertySchema, { name: 'p', title: 'P', type: 'string', pattern: '[' }, () => parsePropertyBody({ name: 'p', title: 'P', type: 'string', pattern: '[' })],
    ['property', propertySchema, { name: 'p', title: 'P', type: 'string', minLength: -1 }, () => parsePropertyBody({ name: 'p', title: 'P', type: 'string', minLength: -1 })],
    ['property', propertySchema, { name: 'p', title: 'P', type: 'string', pattern: '^a+$' }, () => parsePropertyBody({ name: 'p', title: 'P', type: 'string', pattern: '^a+$' })],
    ['resource_type_association', resourceTypeAssociationSchema, { name: 5 }, () => parseAssociationBody({ name: 5 })],
    ['tag', tagSchema, { name: 'y'.repeat(81) }, () => checkTagName('y'.repeat(81))],
  ];

  it.each(cases.map((c, i) => [i, ...c] as const))('case %i (%s): the same answer as the schema compiled at run time', async (_i, name, schema, body, parse) => {
    expect(await outcome(parse)).toBe(runtimeMessage(name, schema(), body) ?? 'accepted');
  });

  it('refuse a pattern that is no regular expression, quoting the path', async () => {
    expect(await outcome(() => parsePropertyBody({ name: 'p', title: 'P', type: 'string', pattern: '[' }))).toBe(
      `Provided object does not match schema 'property': /pattern must match format "regex"`,
    );
  });

  it("check a property definition's default against the definition itself (ajv, loaded for it)", async () => {
    expect(await outcome(() => parsePropertyBody({ name: 'p', title: 'P', type: 'integer', default: 'x' }))).toBe(
      "Default value of property p does not match its definition: 'x' is not of type 'integer'",
    );
    expect(await outcome(() => parseObjectBody({ name: 'o', properties: { p: { title: 'P', type: 'string', enum: ['a'], default: 'a' } } }))).toBe('accepted');
  });
});
