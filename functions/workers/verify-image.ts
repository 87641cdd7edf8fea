import { imageCopier, imageVerifier } from '../../shared/app/data-services.js';
import type { CopyOutcome } from '../../shared/app/copy-image.js';
import type { VerificationOutcome } from '../../shared/app/verify-image.js';
import type { VerificationRequest } from '../../shared/ports/workflows.js';

interface VerifyTaskInput extends VerificationRequest {
  /** Set by the state machine's GiveUp (or CopyGiveUp) state after Verify (or Copy) kept failing. */
  give_up?: boolean;
  error?: string;
}

/**
 * The verifier state machine's task (shared/workflows/verifier.ts): reads the image's bytes
 * once and activates or refuses it; with `give_up`, refuses it. With `copy` (a copy-image
 * import, the Copy and CopyGiveUp states) it copies the image to the import's stores instead:
 * the same function, which already reads and writes every store. Errors are thrown so the
 * state machine retries them.
 */
export const handler = async (input: VerifyTaskInput) => {
  if (typeof input?.image_id !== 'string' || typeof input?.key !== 'string') {
    throw new Error('verify-image expects {"image_id", "key"}');
  }
  if (typeof input.copy === 'string') {
    const request = { image_id: input.image_id, key: input.key, copy: input.copy };
    const copied: CopyOutcome = input.give_up ? await imageCopier().giveUp(request) : await imageCopier().copy(request);
    console.log(JSON.stringify({ level: 'info', message: 'copy-image', image_id: input.image_id, ...copied }));
    return copied;
  }
  const request = { image_id: input.image_id, key: input.key };
  const outcome = input.give_up
    ? await imageVerifier().giveUp(request, input.error ?? 'unknown error')
    : await imageVerifier().verify(request);
  const result = summary(outcome);
  console.log(JSON.stringify({ level: 'info', message: 'verification', image_id: input.image_id, ...result }));
  return result;
};

function summary(outcome: VerificationOutcome) {
  switch (outcome.result) {
    case 'active':
      return { result: 'active', size: outcome.image.size, checksum: outcome.image.checksum };
    case 'refused':
      return { result: 'refused', reason: outcome.reason };
    default:
      return { result: 'skipped', why: outcome.why };
  }
}
