import { PropertyProtections, type PropertyRule } from '../domain/property-protections.js';

let cached: PropertyProtections | undefined;

/**
 * The operator's property protections, built once per process from PROPERTY_PROTECTIONS: the
 * compact JSON of the rules that synthesis or `npm start` read from the property protection
 * file and validated. Unset: none (every caller may create, read, update and delete every property).
 */
export function propertyProtections(): PropertyProtections {
  return (cached ??= new PropertyProtections(rulesFrom(process.env.PROPERTY_PROTECTIONS)));
}

function rulesFrom(raw: string | undefined): PropertyRule[] {
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('PROPERTY_PROTECTIONS is not JSON; it must be the list of property protection rules');
  }
  if (!Array.isArray(parsed)) throw new Error('PROPERTY_PROTECTIONS must be a list of property protection rules');
  return parsed as PropertyRule[];
}
