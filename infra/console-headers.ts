/**
 * The browser console's Content-Security-Policy, one definition for both places that serve it: the
 * local runtime (infra/local/console-server.ts) and the stack's CloudFront response headers
 * policy (infra/constructs/console-site.ts). Only the console's own script and style files run
 * (no 'unsafe-inline', no eval), nothing frames it, and its scripts may connect only to `'self'`
 * and the origins named: the API, the store's presigned-URL origin, the sign-in's token endpoint.
 */
export function consoleContentSecurityPolicy(connectOrigins: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${["'self'", ...connectOrigins].join(' ')}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** Headers beyond the CSP, sent with every console answer (CloudFront: custom headers of the policy). */
export const CONSOLE_EXTRA_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
} as const;
