/**
 * An operator's policy file in Glance's syntax (oslo.policy reads YAML, and JSON as YAML's
 * subset): a mapping of rule name to check string. Read where configuration is read (synth,
 * `npm start`), validated against Glance's rules, and handed to the functions as the compact
 * JSON of POLICY_OVERRIDES; the functions never parse YAML.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { createPolicy } from '../shared/domain/policy.js';
import { ConfigurationError } from './configuration-error.js';
import { parsePropertyProtections } from '../shared/domain/property-protections.js';

/** A policy file that cannot be applied; the message names the file (and the rule, where one is at fault). */
export class PolicyFileError extends ConfigurationError {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyFileError';
  }
}

/** Lambda environments hold 4 KB in total; the overrides must leave room for the other variables. */
export const MAX_POLICY_OVERRIDES_BYTES = 2048;

/** The overrides a policy file's text holds, validated (every rule known, every check string parsed). */
export function parsePolicyFile(text: string, file: string): Record<string, string> {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new PolicyFileError(`Policy file ${file} is not valid YAML or JSON: ${(error as Error).message}`);
  }
  // An empty file changes nothing, as in oslo.policy.
  if (document === null || document === undefined) return {};
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new PolicyFileError(`Policy file ${file} must map rule names to check strings, not hold ${Array.isArray(document) ? 'a list' : JSON.stringify(document)}`);
  }
  const overrides = document as Record<string, unknown>;
  try {
    createPolicy(overrides);
  } catch (error) {
    throw new PolicyFileError(`Policy file ${file}: ${(error as Error).message}`);
  }
  return overrides as Record<string, string>;
}

/** Reads and validates a policy file; the compact JSON of its overrides, as POLICY_OVERRIDES carries them. */
export function policyOverridesFromFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyFileError(`Policy file ${file} cannot be read: ${(error as Error).message}`);
  }
  const compact = JSON.stringify(parsePolicyFile(text, file));
  if (Buffer.byteLength(compact) > MAX_POLICY_OVERRIDES_BYTES) {
    throw new PolicyFileError(
      `Policy file ${file} holds ${Buffer.byteLength(compact)} bytes of overrides; at most ${MAX_POLICY_OVERRIDES_BYTES} fit in a Lambda environment: override only the rules that differ from Glance's defaults`,
    );
  }
  return compact;
}

/** What a property protection file may take of a Lambda environment's 4 KB. */
export const MAX_PROPERTY_PROTECTIONS_BYTES = 1536;

/**
 * Reads and validates a property protection file (Glance's `roles` format, INI); the compact
 * JSON of its rules, as PROPERTY_PROTECTIONS carries them.
 */
export function propertyProtectionsFromFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyFileError(`Property protection file ${file} cannot be read: ${(error as Error).message}`);
  }
  let compact: string;
  try {
    compact = JSON.stringify(parsePropertyProtections(text, file));
  } catch (error) {
    throw new PolicyFileError((error as Error).message);
  }
  if (Buffer.byteLength(compact) > MAX_PROPERTY_PROTECTIONS_BYTES) {
    throw new PolicyFileError(`Property protection file ${file} holds ${Buffer.byteLength(compact)} bytes of rules; at most ${MAX_PROPERTY_PROTECTIONS_BYTES} fit in a Lambda environment`);
  }
  return compact;
}
