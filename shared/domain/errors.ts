/**
 * Errors the API shows to clients, in Glance's JSON error shape:
 * `{"message": "...", "code": "404 Not Found", "title": "Not Found"}`.
 * Anything that is not a GlanceError becomes a generic 500 at the HTTP edge.
 */
const TITLES: Record<number, string> = {
  300: 'Multiple Choices',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export class GlanceError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'GlanceError';
    this.status = status;
    this.headers = headers;
  }

  get title(): string {
    return TITLES[this.status] ?? 'Error';
  }

  toBody(): { message: string; code: string; title: string } {
    return { message: this.message, code: `${this.status} ${this.title}`, title: this.title };
  }
}

export const badRequest = (message: string) => new GlanceError(400, message);
export const unauthorized = (message = 'This server could not verify that you are authorized to access the document you requested.') =>
  new GlanceError(401, message);
export const forbidden = (message: string) => new GlanceError(403, message);
export const notFound = (message: string) => new GlanceError(404, message);
export const conflict = (message: string) => new GlanceError(409, message);
export const imageNotFound = (id: string) => notFound(`No image found with ID ${id}`);
/** A service behind the API failed; the message says what was and was not done, so a retry is safe. */
export const serviceUnavailable = (message: string) => new GlanceError(503, message);
