/** What the verifier workflow is given: which image, and which bytes of it. */
export interface VerificationRequest {
  image_id: string;
  /** The object to verify; also names the execution, so starting twice starts it once. */
  key: string;
  /** A web-download import: the workflow first fetches this URI into `key` (shared/app/web-fetch.ts). */
  uri?: string;
  /**
   * A copy-image import: the id of its task. The workflow copies the image's bytes at `key` to
   * the stores the import names (shared/app/copy-image.ts) instead of fetching or verifying.
   */
  copy?: string;
}

/** What the scrubber workflow is given. */
export interface ScrubRequest {
  image_id: string;
  /**
   * The version DELETE wrote (PendingScrub.version): names the execution, and an execution
   * claims only the delete it was started for (a restore and a second delete make a new one).
   */
  version: number;
  /** How long to wait before removing the data (the restore window). */
  delay_seconds: number;
}

/**
 * Which scrub: the `delayed` one DELETE starts (idempotent for the same request), an admin's
 * scrub `now` (idempotent while it runs; a new execution once it has ended), or a `redrive`
 * of a scrub that was lost (always a new execution).
 */
export type ScrubStart = 'delayed' | 'now' | 'redrive';

/** Long-running work, run by Step Functions in AWS and by the same definitions locally. */
export interface Workflows {
  /** Idempotent for the same request. */
  startVerification(request: VerificationRequest): Promise<void>;
  /** A new verification execution for a request whose execution was lost (the sweeper's re-drive). */
  redriveVerification(request: VerificationRequest): Promise<void>;
  startScrub(request: ScrubRequest, start: ScrubStart): Promise<void>;
  /** Stops the delayed and the scrub-now execution of this delete, if they still run. */
  stopScrubs(imageId: string, version: number): Promise<void>;
  /** Ids of the images with a scrubber execution running (eventually consistent, as ListExecutions is). */
  runningScrubs(): Promise<Set<string>>;
  /** Ids of the images with a verifier execution running (eventually consistent). */
  runningVerifications(): Promise<Set<string>>;
}
