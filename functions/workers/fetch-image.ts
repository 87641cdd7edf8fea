import { webFetcher } from '../../shared/app/fetch-services.js';
import type { VerificationRequest } from '../../shared/ports/workflows.js';

interface FetchTaskInput extends VerificationRequest {
  /** Set by the state machine's FetchGiveUp state after Fetch kept failing. */
  give_up?: boolean;
  error?: string;
}

/**
 * The verifier state machine's web-download step (shared/workflows/verifier.ts): fetches the
 * image's URI into its key, then the workflow verifies it; a fetch that fails has already
 * queued the image again with the reason. A ranged fetch that needs more than this run answers
 * `continue` and the workflow runs this step again, which resumes it. Errors are thrown so the
 * state machine retries them (a retry resumes a recorded upload too).
 */
export const handler = async (input: FetchTaskInput) => {
  if (typeof input?.image_id !== 'string' || typeof input?.key !== 'string' || typeof input?.uri !== 'string') {
    throw new Error('fetch-image expects {"image_id", "key", "uri"}');
  }
  const request = { image_id: input.image_id, key: input.key, uri: input.uri };
  const outcome = input.give_up ? await webFetcher().giveUp(request, input.error ?? 'unknown error') : await webFetcher().fetch(request);
  console.log(JSON.stringify({ level: 'info', message: 'web-download fetch', image_id: input.image_id, ...outcome }));
  return outcome;
};
