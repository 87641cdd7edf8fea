import { imageScrubber } from '../../shared/app/data-services.js';

interface ScrubTaskInput {
  /** `check`: the claim, as executions started before the Claim state existed still ask for it. */
  action: 'claim' | 'check' | 'delete-data' | 'mark-deleted' | 'record-failure';
  image_id: string;
  version: number;
  error?: string;
  cause?: string;
}

/** The scrubber state machine's tasks (shared/workflows/scrubber.ts), one action per state. */
export const handler = async (input: ScrubTaskInput) => {
  if (typeof input?.image_id !== 'string' || !Number.isSafeInteger(input?.version)) {
    throw new Error('scrub-image expects {"action", "image_id", "version"}');
  }
  const scrubber = imageScrubber();
  const target = { image_id: input.image_id, version: input.version };
  switch (input.action) {
    case 'claim':
      return scrubber.claim(target);
    case 'check':
      return { pending: (await scrubber.claim(target)).claimed };
    case 'delete-data':
      return scrubber.deleteData(target);
    case 'mark-deleted':
      return scrubber.markDeleted(target);
    case 'record-failure':
      return scrubber.recordFailure(target, input.error ?? 'unknown', input.cause ?? '');
    default:
      throw new Error(`unknown scrub action ${String(input.action)}`);
  }
};
