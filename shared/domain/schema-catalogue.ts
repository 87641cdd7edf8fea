import { memberSchema, membersSchema } from './image-members.js';
import { imageSchema, imagesSchema } from './image-schema.js';
import { taskSchema, tasksSchema } from './task.js';

/**
 * Every JSON Schema Glance serves under /v2/schemas/{schema_name}, by that name. They are static
 * documents, so one operation (one function) serves them all: a route per schema would cost a
 * function, a role and an API method each, and CloudFormation holds 500 resources per stack.
 * New resource kinds (metadefs) add their schemas here.
 */
const SCHEMAS: Readonly<Record<string, () => Record<string, unknown>>> = {
  image: imageSchema,
  images: imagesSchema,
  member: memberSchema,
  members: membersSchema,
  task: taskSchema,
  tasks: tasksSchema,
};

/** The names served, in the order the OpenAPI document lists them. */
export const SCHEMA_NAMES: readonly string[] = Object.keys(SCHEMAS);

/** The schema called `name`, or undefined when Glance has none by that name. */
export function schemaNamed(name: string): Record<string, unknown> | undefined {
  return Object.hasOwn(SCHEMAS, name) ? SCHEMAS[name]!() : undefined;
}
