import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { takeLongUploads } from '../../shared/http/upload-server.js';

// What the data front and `npm start`'s API server are readied with. Node's own default would
// answer 408 to an upload still sending after 300 s; proving that through a real upload would
// take those five minutes, so this checks the settings Node enforces it with.
describe('servers that take image bodies', () => {
  it('have no whole-request deadline, and keep the deadline on headers', () => {
    const plain = createServer();
    expect(plain.requestTimeout).toBe(300_000);
    const server = takeLongUploads(createServer());
    expect(server.requestTimeout).toBe(0);
    expect(server.headersTimeout).toBe(plain.headersTimeout);
    expect(server.headersTimeout).toBeGreaterThan(0);
  });
});
