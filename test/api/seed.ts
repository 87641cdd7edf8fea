import { inject } from 'vitest';
import { seedActive as seedActiveIn } from '../support/seed-active.js';

/** Moves a queued image to active in the table behind the API under test. */
export function seedActive(id: string): Promise<void> {
  return seedActiveIn(inject('dynamodbEndpoint'), inject('tableName'), id);
}
