import { badRequest } from './errors.js';

/**
 * Request bodies as Glance's JSONRequestDeserializer reads them (glance/common/wsgi.py
 * `from_json`, oslo's `jsonutils.loads`): the bytes are decoded as strict UTF-8 and parsed as
 * JSON; a decoding error is a ValueError there, so invalid UTF-8 is the same 400 "Malformed JSON
 * in request body." as a syntax error (never U+FFFD stored in its place).
 */

/**
 * Deepest nesting of arrays and objects a body may have. Every document the API reads is at
 * most three levels deep (a patch: list → operation → tag list); the bound keeps every walk
 * over a body (schema messages, reprs) small. Glance has none: Python's json raises
 * RecursionError near 1,000 levels, which Glance answers with a 500.
 */
export const MAX_JSON_DEPTH = 32;

const MALFORMED = 'Malformed JSON in request body.';
// ignoreBOM keeps a leading BOM in the text, so JSON.parse refuses it as Python's json does.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The JSON document in a request body.
 * @throws GlanceError 400 "Body expected in request." (empty), "Malformed JSON in request body."
 *   (not UTF-8, not JSON, or nested deeper than MAX_JSON_DEPTH)
 */
export function parseJsonBody(body: Uint8Array | string | undefined): unknown {
  let text: string;
  if (body === undefined) text = '';
  else if (typeof body === 'string') text = body;
  else {
    try {
      text = strictUtf8.decode(body);
    } catch {
      throw badRequest(MALFORMED);
    }
  }
  if (text.trim() === '') throw badRequest('Body expected in request.');
  let value: unknown;
  try {
    // V8's JSON.parse is iterative: any depth parses without exhausting the stack.
    value = JSON.parse(text);
  } catch {
    throw badRequest(MALFORMED);
  }
  if (nestingDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw badRequest(`Malformed JSON in request body: nested deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  // "\ud800" is the escaped form of what strict UTF-8 refuses as bytes: not text, and no store
  // keeps it (DynamoDB holds UTF-8 strings).
  if (holdsUnpairedSurrogate(value)) {
    throw badRequest('Malformed JSON in request body: a string holds an unpaired surrogate escape.');
  }
  return value;
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether any string in a parsed JSON value, object keys included, is not well-formed UTF-16. */
export function holdsUnpairedSurrogate(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node === 'string') {
      if (UNPAIRED_SURROGATE.test(node)) return true;
    } else if (Array.isArray(node)) {
      for (const child of node) pending.push(child); // not push(...node): a million arguments overflow
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) pending.push(key, child);
    }
  }
  return false;
}

/**
 * How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), counted without
 * recursion and without looking further once `limit` is passed.
 */
export function nestingDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return deepest;
}
