/** What the verifier workflow is given: which image, and which bytes of it. */
export interface VerificationRequest {
  image_id: string;
  /** The object to verify; also names the execution, so starting twice starts it once. */
  key: string;
}

/** What the scrubber workflow is given. */
export interface ScrubRequest {
  image_id: string;
  /** The image's version once pending_delete: pins the image (a restore changes it) and names the execution. */
  version: number;
  /** How long to wait before removing the data (the restore window). */
  delay_seconds: number;
}

/** Long-running work, run by Step Functions in AWS and by the same definitions locally. */
export interface Workflows {
  /** Idempotent for the same request. */
  startVerification(request: VerificationRequest): Promise<void>;
  /** Idempotent for the same request; `now` scrubs at once in a separate execution. */
  startScrub(request: ScrubRequest, now?: boolean): Promise<void>;
  /** Stops the delayed scrub started for this image version, if it still runs. */
  stopScrub(imageId: string, version: number): Promise<void>;
}
