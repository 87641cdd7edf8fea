/**
 * `skyglass:policyFile`: read and validated at synthesis, carried to every function as
 * POLICY_OVERRIDES; a malformed file stops synthesis with a message naming the file and the rule.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../infra/config.js';
import { parsePolicyFile } from '../../infra/policy-file.js';
import { SkyglassStack, stackPropsFrom } from '../../infra/stack.js';
import { PARENT_STACK_ROUTES as ROUTES, WORKERS } from '../../shared/routes.js';

const dir = mkdtempSync(join(tmpdir(), 'skyglass-policy-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function policyFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Synthesis as `cdk synth -c skyglass:policyFile=...` runs it (bundling skipped). */
function synthesize(file: string, context: Record<string, string> = {}): { stack: SkyglassStack; template: Template } {
  const app = new App({ context: { 'skyglass:policyFile': file, ...context, 'aws:cdk:bundling-stacks': [] } });
  const config = readConfig((key) => app.node.tryGetContext(key), {});
  const stack = new SkyglassStack(app, 'PolicyTest', stackPropsFrom(config));
  return { stack, template: Template.fromStack(stack) };
}

describe('skyglass:policyFile', () => {
  it('gives every function the validated overrides and property protections as compact JSON (POLICY_OVERRIDES, PROPERTY_PROTECTIONS)', () => {
    const file = policyFile('policy.yaml', '# members may publicize\n"publicize_image": "role:member"\ndownload_image: "role:admin"\n');
    const protections = policyFile('protections.conf', '[^x_]\ncreate = admin\nread = @\nupdate = admin\ndelete = admin\n');
    const { stack, template } = synthesize(file, { 'skyglass:propertyProtectionFile': protections });
    const resources = template.toJSON().Resources as Record<string, { Properties: { Environment: { Variables: Record<string, string> } } }>;
    const functions = [...Object.values(stack.functions), ...Object.values(stack.workers), stack.authorizerFunction, stack.fallbackFunction];
    expect(functions).toHaveLength(ROUTES.length + WORKERS.length + 2);
    for (const fn of functions) {
      const id = stack.getLogicalId(fn.node.defaultChild as CfnElement);
      expect(resources[id]!.Properties.Environment.Variables.POLICY_OVERRIDES, fn.node.path).toBe('{"publicize_image":"role:member","download_image":"role:admin"}');
      expect(resources[id]!.Properties.Environment.Variables.PROPERTY_PROTECTIONS, fn.node.path).toBe('[{"pattern":"^x_","create":["admin"],"read":["@"],"update":["admin"],"delete":["admin"]}]');
    }
  }, 120_000);

  it.each([
    ['unknown.yaml', 'publicise_image: role:member\n', 'Policy rule "publicise_image" is not a Glance policy rule, so it cannot be overridden'],
    ['unparsable.json', '{"modify_image": "role:admin or (role:member"}', 'Policy rule "modify_image" does not parse: expected ")" but found the end in "role:admin or (role:member"'],
    ['broken.yaml', 'modify_image: [role:admin\n', 'is not valid YAML or JSON'],
  ])('stops synthesis on %s with a message naming the file and the rule', (name, text, message) => {
    const file = policyFile(name, text);
    expect(() => synthesize(file)).toThrow(`Policy file ${file}`);
    expect(() => synthesize(file)).toThrow(message);
  });

  it('stops synthesis on a malformed skyglass:propertyProtectionFile, naming the file and the section', () => {
    const good = policyFile('fine.yaml', '');
    const bad = policyFile('bad.conf', '[^x_]\ncreate = @\nread = @\nupdate = @\n');
    expect(() => synthesize(good, { 'skyglass:propertyProtectionFile': bad })).toThrow(`Property protection file ${bad}: section [^x_] has no "delete"`);
  });

  it('stops synthesis when the file cannot be read', () => {
    expect(() => synthesize(join(dir, 'missing.yaml'))).toThrow(`Policy file ${join(dir, 'missing.yaml')} cannot be read`);
  });

  it("reads Glance's JSON syntax as well as YAML, and an empty file as no overrides", () => {
    expect(parsePolicyFile('{"get_images": "role:reader", "context_is_admin": "role:admin"}', 'p.json')).toEqual({ get_images: 'role:reader', context_is_admin: 'role:admin' });
    expect(parsePolicyFile('', 'empty.yaml')).toEqual({});
    expect(() => parsePolicyFile('- role:admin\n', 'list.yaml')).toThrow('Policy file list.yaml must map rule names to check strings, not hold a list');
  });
});
