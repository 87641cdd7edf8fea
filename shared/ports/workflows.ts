/** What the verifier workflow is given: which image, and which bytes of it. */
export interface VerificationRequest {
  image_id: string;
  /** The object to verify; also names the execution, so starting twice starts it once. */
  key: string;
}

/** Long-running work, run by Step Functions in AWS and by the same definitions locally. */
export interface Workflows {
  /** Idempotent for the same request. */
  startVerification(request: VerificationRequest): Promise<void>;
}
