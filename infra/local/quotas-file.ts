import { readFileSync } from 'node:fs';
import { parseQuotaConfig } from '../../shared/domain/quota.js';
import { ConfigurationError } from '../configuration-error.js';

/**
 * QUOTAS_FILE for `npm start`: a JSON file of per-project quotas (shared/domain/quota.ts),
 * validated before anything starts and handed to the handlers as QUOTAS, the variable the
 * stack sets from `skyglass:quotas`. Unset: no quotas (unlimited), as Glance without keystone
 * limits. Any problem with the file stops start-up with a message naming it.
 */
export function quotasEnvironment(file: string | undefined): { QUOTAS?: string } {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`QUOTAS_FILE ${file} cannot be read: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(`QUOTAS_FILE ${file} is not valid JSON: ${(error as Error).message}`);
  }
  try {
    return { QUOTAS: JSON.stringify(parseQuotaConfig(parsed, `QUOTAS_FILE ${file}`)) };
  } catch (error) {
    throw new ConfigurationError((error as Error).message);
  }
}
