/**
 * Exit codes scripts can rely on (README "The skyglass CLI"). Glance's client exits 1 for every
 * failure and 130 on Ctrl-C; skyglass keeps those and tells usage and reachability apart.
 */
export const EXIT = {
  ok: 0,
  /** The service refused the request (its Glance-style message is printed), or refused the data. */
  api: 1,
  /** Bad flags or arguments, a missing or unreadable file: nothing was sent. */
  usage: 2,
  /** The endpoint could not be reached (connection refused, DNS, timeout). */
  unreachable: 3,
  /** Downloaded data does not match the image's checksums (the partial file is kept aside, not in place). */
  integrity: 4,
  /** Interrupted (Ctrl-C / SIGTERM); an upload can be resumed. */
  interrupted: 130,
  /** The reader of stdout went away (`| head`): what a shell reports for a process SIGPIPE killed, as for cat. */
  brokenPipe: 141,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);

/** A non-2xx answer, shown as glanceclient shows it: `HTTP 404 Not Found: <Glance's message>`. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message, EXIT.api);
  }
}
