/**
 * The route rooms' nested stacks (infra/constructs/route-room.ts) in tests: which template a
 * construct's resource is in, and a nested template's values as the parent passes them (each
 * parent reference is a Parameter of the nested stack, set on its AWS::CloudFormation::Stack).
 */
import { NestedStack, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

type Json = Record<string, any>; // CloudFormation fragments

const templates = new WeakMap<Stack, Json>();

/** The synthesized template of a stack (parent or nested), synthesized once. */
export function templateOf(stack: Stack): Json {
  let template = templates.get(stack);
  if (!template) {
    template = Template.fromStack(stack).toJSON() as Json;
    templates.set(stack, template);
  }
  return template;
}

/** A construct's CloudFormation resource (its default child's), from the template of the stack it is in. */
export function resourceOf(construct: IConstruct): { stack: Stack; id: string; resource: Json; resources: Record<string, Json> } {
  const stack = Stack.of(construct);
  const id = stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const resources = templateOf(stack).Resources as Record<string, Json>;
  const resource = resources[id];
  if (!resource) throw new Error(`${construct.node.path}: no resource ${id} in ${stack.node.path}`);
  return { stack, id, resource, resources };
}

/** The nested stacks under a stack. */
export function nestedStacksOf(stack: Stack): NestedStack[] {
  return stack.node.findAll().filter((c): c is NestedStack => NestedStack.isNestedStack(c) && Stack.of(c.node.scope!) === stack);
}

/**
 * A value of a nested template with each `Ref` to one of its Parameters replaced by what the
 * parent passes for it (recursively, up to the outermost stack): the value as the parent's template writes it.
 */
export function inParent(stack: Stack, value: unknown): unknown {
  if (!NestedStack.isNestedStack(stack)) return value;
  const parent = Stack.of(stack.node.scope!);
  const cfn = stack.nestedStackResource!;
  const parameters = ((templateOf(parent).Resources as Record<string, Json>)[parent.getLogicalId(cfn)]!.Properties.Parameters ?? {}) as Json;
  return inParent(parent, withParameters(value, parameters));
}

/** `value` with each `Ref` to one of `parameters` replaced by the value passed for it (recursively). */
export function withParameters(value: unknown, parameters: Json): unknown {
  const replace = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(replace);
    if (v && typeof v === 'object') {
      const o = v as Json;
      if (typeof o.Ref === 'string' && o.Ref in parameters) return parameters[o.Ref];
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, replace(x)]));
    }
    return v;
  };
  return replace(value);
}
