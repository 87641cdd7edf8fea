import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * EventBridge for the local runtime: a loopback endpoint for PutEvents (what the functions
 * call, with the real @aws-sdk/client-eventbridge). Each event is logged and appended, as the
 * JSON EventBridge would deliver, to a JSON-lines file that tests and developers can read.
 */
export interface LocalEventBridge {
  endpoint: string;
  file: string;
  stop(): Promise<void>;
}

export async function startLocalEventBridge(file: string, options: { log?: boolean } = {}): Promise<LocalEventBridge> {
  mkdirSync(dirname(file), { recursive: true });
  const server = createServer((req, res) => void serve(req, res));
  async function serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target !== 'AWSEvents.PutEvents') return reply(400, { __type: 'UnknownOperationException', message: `${target} is not emulated locally` });
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Entries?: Array<Record<string, string> & { Time?: number }> };
    const results = (body.Entries ?? []).map((entry) => {
      const id = randomUUID();
      const event = {
        version: '0',
        id,
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: '000000000000',
        // As EventBridge: the entry's Time (epoch seconds on the wire) when given, else now.
        time: new Date(entry.Time !== undefined ? entry.Time * 1000 : Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: 'us-east-1',
        resources: entry.Resources ?? [],
        'event-bus-name': entry.EventBusName,
        detail: JSON.parse(entry.Detail ?? '{}'),
      };
      appendFileSync(file, `${JSON.stringify(event)}\n`);
      if (options.log) console.log(JSON.stringify({ level: 'info', message: 'event', type: entry.DetailType, image_id: event.detail.id }));
      return { EventId: id };
    });
    reply(200, { FailedEntryCount: 0, Entries: results });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    endpoint: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    file,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
