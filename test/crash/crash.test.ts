import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeProcess, type Answer, type CrashRule } from './runtime-process.js';
import { startSourceServer, type SourceServer } from '../api/source-server.js';

/**
 * The crash suite: the local runtime is killed (SIGKILL to its process group, emulators and
 * workflows included) between a write and the side effect that follows it, on every path that
 * has one; then it is started again on the same data, each client does what a client would
 * (nothing, or retry), the sweepers run as their schedules would, and every image must end in a
 * state that agrees with what its callers were told, with its bytes neither lost nor left behind.
 *
 * To kill once rather than once per path, every scenario's request is first brought to its
 * crash point and held there (the call never leaves the SDK), all at the same time; then the
 * whole runtime is killed. For each request that is the process dying right at that point.
 */
const RAW = { disk_format: 'raw', container_format: 'bare' };
const OCTETS = { 'Content-Type': 'application/octet-stream' };
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const MINUTES = 60 * 1000;
/** Over the API tier's limit with a Content-Length: the local runtime's data front streams it (two parts). */
const STREAMED = 10 * 1024 * 1024;

interface Scenario {
  name: string;
  /** Sets up the image; returns its id, the bytes it should end with if active, and the crash point. */
  prepare(): Promise<{ id: string; data?: Buffer; rule: CrashRule; request: () => Promise<Answer> }>;
  /** What the caller was told before the crash: 0 when its connection died with the runtime. */
  told: number;
  /** What the client does once the runtime is back, if anything; its answer is checked. */
  retry?: (id: string) => Promise<Answer>;
  retryAnswer?: number;
  /** The statuses the image may end in. */
  ends: string[];
  /** For an import: the statuses of the image's tasks once the sweepers have run (GET /v2/images/{id}/tasks). */
  tasks?: string[];
  /** Whose image it is (and so who checks it): the member's unless the scenario's request is an admin's. */
  owner?: 'admin';
  /** For a copy-image import: the stores the image ends in, each holding its object (and no open upload). */
  stores?: string[];
  /** Awaited, once every request is held, before the kill: what else must have happened by then. */
  ready?: (id: string) => Promise<void>;
  /** Checked once the image has ended, beyond the invariants. */
  check?: (id: string) => void;
}

let runtime: RuntimeProcess;
/** web-download's sources, in this process: they outlive the runtime's kill. */
let source: SourceServer;
let rangedSource: SourceServer;
/** Three ranges of a ranged fetch (8 MiB, 8 MiB, the rest). */
const RANGED = 20 * 1024 * 1024 + 777;
let dataDir: string;
let token: string;
let admin: string;

async function newImage(): Promise<string> {
  const res = await runtime.call('/v2/images', { method: 'POST', token, json: RAW });
  if (res.status !== 201) throw new Error(`create: ${res.status} ${res.text}`);
  return res.body.id as string;
}

/** An image with 4 KiB staged, and its glance-direct import request, not yet sent. */
async function stagedForImport() {
  const id = await newImage();
  const data = randomBytes(4096);
  const staged = await runtime.call(`/v2/images/${id}/stage`, { method: 'PUT', token, body: data, headers: OCTETS });
  if (staged.status !== 204) throw new Error(`stage: ${staged.status} ${staged.text}`);
  const request = () => runtime.call(`/v2/images/${id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } });
  return { id, data, request };
}

async function activeImage(data: Buffer): Promise<string> {
  const id = await newImage();
  const put = await runtime.call(`/v2/images/${id}/file`, { method: 'PUT', token, body: data, headers: OCTETS });
  if (put.status !== 204) throw new Error(`PUT /file: ${put.status} ${put.text}`);
  return id;
}

/** Opens an upload session for `data` and PUTs every part; the session. */
async function uploadedParts(id: string, data: Buffer, stage = false) {
  const session = await runtime.call(`/v2/images/${id}/uploads`, { method: 'POST', token, json: { size: data.length, stage } });
  if (session.status !== 201) throw new Error(`uploads: ${session.status} ${session.text}`);
  for (const part of session.body.parts as Array<{ url: string; offset: number; length: number }>) {
    const put = await fetch(part.url, { method: 'PUT', body: data.subarray(part.offset, part.offset + part.length) });
    if (put.status !== 200) throw new Error(`part: ${put.status}`);
  }
  return session.body as { upload_id: string };
}

/** An active 4 KiB image (in the default store, `us`) and its copy-image import to `eu` by an admin, not yet sent. */
async function copyToEu() {
  const data = randomBytes(4096);
  const id = await activeImage(data);
  const request = () => runtime.call(`/v2/images/${id}/import`, { method: 'POST', token: admin, json: { method: { name: 'copy-image' }, stores: ['eu'] } });
  return { id, data, request };
}
/** npm start's second store (infra/local/server.ts DEFAULT_LOCAL_STORES). */
const EU_BUCKET = 'skyglass-local-images-eu';

const putFile = (id: string, data: Buffer) => () => runtime.call(`/v2/images/${id}/file`, { method: 'PUT', token, body: data, headers: OCTETS });
const complete = (id: string, upload: string) => () => runtime.call(`/v2/images/${id}/uploads/${upload}/complete`, { method: 'POST', token });

const SCENARIOS: Scenario[] = [
  {
    name: 'PUT /file, after the saving write and before the bytes are stored: the retry succeeds',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(4096);
      return { id, data, rule: { command: 'PutObject', key: `images/${id}/` }, request: putFile(id, data) };
    },
    told: 0,
    retry: (id) => runtime.call(`/v2/images/${id}/file`, { method: 'PUT', token, body: scenarioData.get(id), headers: OCTETS }),
    retryAnswer: 204,
    ends: ['active'],
  },
  {
    name: 'PUT /file, after the bytes are stored and before the image is activated: nothing is left half-done',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(4096);
      return { id, data, rule: { command: 'PutItem', key: id, imageStatus: 'active' }, request: putFile(id, data) };
    },
    told: 0,
    ends: ['queued', 'active'],
  },
  // The data front (a body over the API tier's limit, so the request streams into a multipart
  // upload): the saving write, the upload opened, its parts, its completion and the active write.
  {
    name: 'streamed PUT /file, after the store opened its multipart upload and before the saving write: the sweep aborts the upload',
    async prepare() {
      const id = await newImage();
      return { id, rule: { command: 'PutItem', key: id, imageStatus: 'saving' }, request: putFile(id, randomBytes(STREAMED)) };
    },
    told: 0,
    ends: ['queued'],
  },
  {
    name: 'streamed PUT /file, killed while the body streams into its multipart upload: the sweeps queue the image again and abort the upload',
    async prepare() {
      const id = await newImage();
      return { id, rule: { command: 'UploadPart', key: `images/${id}/` }, request: putFile(id, randomBytes(STREAMED)) };
    },
    told: 0,
    ends: ['queued'],
  },
  {
    name: 'streamed PUT /file, killed while the body streams: the retry takes the image over and ends active, the dead upload is aborted',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(STREAMED);
      return { id, data, rule: { command: 'UploadPart', key: `images/${id}/` }, request: putFile(id, data) };
    },
    told: 0,
    retry: (id) => putFile(id, scenarioData.get(id)!)(),
    retryAnswer: 204,
    ends: ['active'],
  },
  {
    name: 'streamed PUT /file, after the upload completed and before the active write: the sweeps queue the image again and remove the object',
    async prepare() {
      const id = await newImage();
      return { id, rule: { command: 'PutItem', key: id, imageStatus: 'active' }, request: putFile(id, randomBytes(STREAMED)) };
    },
    told: 0,
    ends: ['queued'],
  },
  {
    name: 'streamed PUT /file, after the upload completed and before the active write: the retry ends active, the first object is removed',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(STREAMED);
      return { id, data, rule: { command: 'PutItem', key: id, imageStatus: 'active' }, request: putFile(id, data) };
    },
    told: 0,
    retry: (id) => putFile(id, scenarioData.get(id)!)(),
    retryAnswer: 204,
    ends: ['active'],
  },
  {
    name: 'PUT /stage, after the bytes are stored and before the image records them: the orphan is removed',
    async prepare() {
      const id = await newImage();
      const request = () => runtime.call(`/v2/images/${id}/stage`, { method: 'PUT', token, body: randomBytes(2048), headers: OCTETS });
      return { id, rule: { command: 'PutItem', key: id, imageStatus: 'uploading' }, request };
    },
    told: 0,
    ends: ['queued'],
  },
  {
    name: 'import, after the importing write and before verification starts: the image ends active',
    async prepare() {
      const { id, data, request } = await stagedForImport();
      return { id, data, rule: { command: 'StartExecution', key: id }, request };
    },
    told: 0,
    ends: ['active'],
    // The importing write recorded the task (same transaction); the verification the sweep re-drives finishes it.
    tasks: ['success'],
  },
  {
    name: 'web-download import, after the importing write (URI and task recorded) and before the workflow starts: the sweep re-drives the fetch, the image ends active',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(64 * 1024);
      source.serve(id, data);
      const request = () => runtime.call(`/v2/images/${id}/import`, { method: 'POST', token, json: { method: { name: 'web-download', uri: `${source.base}/file/${id}` } } });
      return { id, data, rule: { command: 'StartExecution', key: id }, request };
    },
    told: 0,
    ends: ['active'],
    tasks: ['success'],
  },
  {
    name: 'web-download of a ranged source, killed while its run fills the upload it recorded (after import answered 202): the re-driven execution resumes the upload, fetching only the range not stored',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(RANGED);
      rangedSource.serve(id, data);
      const request = () => runtime.call(`/v2/images/${id}/import`, { method: 'POST', token, json: { method: { name: 'web-download', uri: `${rangedSource.base}/file/${id}` } } });
      // The first part's upload is held; the other two ranges are fetched and stored.
      return { id, data, rule: { command: 'UploadPart', key: `images/${id}/` }, request };
    },
    told: 202,
    async ready(id) {
      const deadline = Date.now() + 30_000;
      while ((await runtime.storedParts(id))[0] !== 2) {
        if (Date.now() > deadline) throw new Error(`the other two parts of ${id} were not stored`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    ends: ['active'],
    tasks: ['success'],
    check(id) {
      // Three ranges before the kill, then only the one whose part was not stored.
      const asked = [0, 8, 16].map((mib) => rangedSource.requests.get(`/file/${id} ${mib * 1024 * 1024}`) ?? 0);
      expect(asked.reduce((a, b) => a + b, 0)).toBe(4);
    },
  },
  {
    name: 'a legacy import task (POST /v2/tasks), after the write that makes the image and its task and before the workflow starts: the sweep re-drives the fetch, the task ends success',
    async prepare() {
      // Glance lets image_properties name the image's id: the crash point is keyed on it.
      const id = randomUUID();
      const data = randomBytes(64 * 1024);
      source.serve(id, data);
      const input = { import_from: `${source.base}/file/${id}`, import_from_format: 'raw', image_properties: { id, disk_format: 'raw', container_format: 'bare' } };
      const request = () => runtime.call('/v2/tasks', { method: 'POST', token: admin, json: { type: 'import', input } });
      return { id, data, rule: { command: 'StartExecution', key: id }, request };
    },
    told: 0,
    ends: ['active'],
    tasks: ['success'],
    owner: 'admin',
  },
  {
    name: 'copy-image import, after the write that records its targets and task and before the workflow starts: the sweep re-drives the copy',
    async prepare() {
      const { id, data, request } = await copyToEu();
      return { id, data, rule: { command: 'StartExecution', key: id }, request };
    },
    told: 0,
    ends: ['active'],
    tasks: ['success'],
    stores: ['eu', 'us'],
  },
  {
    name: 'the copy of a copy-image import, killed as it copies to eu (after import answered 202): the re-driven copy copies and records it',
    async prepare() {
      const { id, data, request } = await copyToEu();
      return { id, data, rule: { command: 'CopyObject', key: `images/${id}/` }, request };
    },
    told: 202,
    ends: ['active'],
    tasks: ['success'],
    stores: ['eu', 'us'],
  },
  {
    name: 'the verifier of an import, after import answered 202 and before the write that activates the image and finishes its task: both end done',
    async prepare() {
      const { id, data, request } = await stagedForImport();
      // The image's Put leads the transaction that also updates its task: the rule holds that transaction.
      return { id, data, rule: { command: 'PutItem', key: id, imageStatus: 'active' }, request };
    },
    told: 202,
    ends: ['active'],
    tasks: ['success'],
  },
  {
    name: 'opening an upload session, after the store opened it and before the image records it: nothing is left open',
    async prepare() {
      const id = await newImage();
      const request = () => runtime.call(`/v2/images/${id}/uploads`, { method: 'POST', token, json: { size: 1024 } });
      return { id, rule: { command: 'PutItem', key: id, imageStatus: 'saving' }, request };
    },
    told: 0,
    ends: ['queued'],
  },
  {
    name: 'complete, after the store assembled the object and before the image records it: the retried complete activates it',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(64 * 1024);
      const { upload_id } = await uploadedParts(id, data);
      scenarioUpload.set(id, upload_id);
      return { id, data, rule: { command: 'PutItem', key: id, imageStatus: 'saving' }, request: complete(id, upload_id) };
    },
    told: 0,
    retry: (id) => complete(id, scenarioUpload.get(id)!)(),
    retryAnswer: 202,
    ends: ['active'],
  },
  {
    name: 'complete, after the write and before verification starts: the image ends active',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(64 * 1024);
      const { upload_id } = await uploadedParts(id, data);
      return { id, data, rule: { command: 'StartExecution', key: id }, request: complete(id, upload_id) };
    },
    told: 0,
    ends: ['active'],
  },
  {
    name: 'the verifier, after complete answered 202 and before the image is activated: the image ends active with its bytes',
    async prepare() {
      const id = await newImage();
      const data = randomBytes(64 * 1024);
      const { upload_id } = await uploadedParts(id, data);
      return { id, data, rule: { command: 'PutItem', key: id, imageStatus: 'active' }, request: complete(id, upload_id) };
    },
    told: 202,
    ends: ['active'],
  },
  {
    name: 'abort, after the store abort and before the queued write: nothing is left open',
    async prepare() {
      const id = await newImage();
      const { upload_id } = await uploadedParts(id, randomBytes(64 * 1024));
      const request = () => runtime.call(`/v2/images/${id}/uploads/${upload_id}`, { method: 'DELETE', token });
      return { id, rule: { command: 'PutItem', key: id, imageStatus: 'queued' }, request };
    },
    told: 0,
    ends: ['queued'],
  },
  {
    name: 'DELETE, after the pending_delete write and before the scrubber starts: the sweep scrubs it',
    async prepare() {
      const id = await activeImage(randomBytes(4096));
      return { id, rule: { command: 'StartExecution', key: id }, request: () => runtime.call(`/v2/images/${id}`, { method: 'DELETE', token }) };
    },
    told: 0,
    ends: ['deleted'],
  },
  {
    name: 'the scrubber, after DELETE answered 204 and before the bytes are deleted: the sweep finishes the scrub',
    async prepare() {
      const id = await activeImage(randomBytes(4096));
      return { id, rule: { command: 'DeleteObject', key: `images/${id}/` }, request: () => runtime.call(`/v2/images/${id}`, { method: 'DELETE', token }) };
    },
    told: 204,
    ends: ['deleted'],
  },
  {
    name: 'the scrubber, after the bytes are deleted and before the tombstone: the sweep finishes the scrub',
    async prepare() {
      const id = await activeImage(randomBytes(4096));
      return { id, rule: { command: 'PutItem', key: id, imageStatus: 'deleted' }, request: () => runtime.call(`/v2/images/${id}`, { method: 'DELETE', token }) };
    },
    told: 204,
    ends: ['deleted'],
  },
  {
    name: 'restore, after the image is active again and before the scrubber is stopped: the bytes stay',
    async prepare() {
      const data = randomBytes(4096);
      const id = await activeImage(data);
      // Restored at once after the delete, inside the restore window.
      const request = async () => {
        const deleted = await runtime.call(`/v2/images/${id}`, { method: 'DELETE', token });
        if (deleted.status !== 204) throw new Error(`delete: ${deleted.status}`);
        return runtime.call(`/v2/images/${id}/actions/restore`, { method: 'POST', token: admin });
      };
      return { id, data, rule: { command: 'StopExecution', key: id }, request };
    },
    told: 0,
    ends: ['active'],
  },
];

const scenarioData = new Map<string, Buffer>();
const scenarioUpload = new Map<string, string>();
const outcomes = new Map<string, { id: string; data?: Buffer; told: number; retried?: number }>();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'skyglass-crash-'));
  source = await startSourceServer();
  rangedSource = await startSourceServer({ ranges: true });
  // A short restore window, so re-driven scrubs finish within the suite; web-download from the
  // source server's port on 127.0.0.1 (loopback is the local runtime's default).
  runtime = new RuntimeProcess(dataDir, { SCRUB_DELAY_SECONDS: '2', SKYGLASS_LOCAL_RETRY_MS: '50', SKYGLASS_IMPORT_ALLOWED_PORTS: `${source.port},${rangedSource.port}` });
  await runtime.start();
  token = await runtime.token(`crash-${randomBytes(4).toString('hex')}`);
  admin = await runtime.token('crash-ops', ['admin']);

  // Every scenario's request, held at its crash point, all at once; then one kill.
  const prepared: Array<{ scenario: Scenario } & Awaited<ReturnType<Scenario['prepare']>>> = [];
  for (const scenario of SCENARIOS) {
    const p = await scenario.prepare();
    if (p.data) scenarioData.set(p.id, p.data);
    prepared.push({ scenario, ...p });
  }
  runtime.holdAt(prepared.map((p) => p.rule));
  const answers = prepared.map((p) => p.request());
  await runtime.allHeld();
  // Requests answered before their background work reached its crash point have their answer by now.
  await Promise.race([Promise.all(answers.filter((_, i) => prepared[i]!.scenario.told !== 0)), new Promise((r) => setTimeout(r, 5000))]);
  await Promise.all(prepared.map((p) => p.scenario.ready?.(p.id)));
  await runtime.kill();
  const told = await Promise.all(answers);
  await runtime.start();

  // What clients do once the service is back, then the sweeps as their schedules run them:
  // the re-drive every 15 minutes, and once the sweep period has passed, all of them.
  const retried = await Promise.all(prepared.map(async (p) => (p.scenario.retry ? (await p.scenario.retry(p.id)).status : undefined)));
  const ids = prepared.map((p) => p.id);
  await runtime.sweep(new Date(Date.now() + 15 * MINUTES), ids);
  await settle(ids);
  await runtime.sweep(new Date(Date.now() + 3 * 24 * 60 * MINUTES), ids);
  await settle(ids);
  prepared.forEach((p, i) => outcomes.set(p.scenario.name, { id: p.id, data: p.data, told: told[i]!.status, retried: retried[i] }));
});

afterAll(async () => {
  await runtime?.stop();
  await source?.close();
  await rangedSource?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Waits until no image is mid-way (saving, importing, pending_delete), or 30 s. */
async function settle(ids: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const statuses = await Promise.all(ids.map(async (id) => (await runtime.stored(id))?.status));
    if (!statuses.some((s) => s === 'saving' || s === 'importing' || s === 'pending_delete')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The invariants every image must meet once the sweepers have run: nothing stuck mid-way; an
 * active image's bytes are there and are the ones its checksum names; an image without data
 * (queued, deleted) holds nothing at the store: no object, no open multipart upload.
 */
async function expectConsistent(id: string, data: Buffer | undefined): Promise<string> {
  const image = await runtime.stored(id);
  const status = image?.status ?? 'gone';
  const stored = await runtime.storedBytes(id);
  if (status === 'active' || status === 'deactivated') {
    expect(stored).toEqual({ objects: [image!.location], uploads: [] });
    const redirect = await runtime.call(`/v2/images/${id}/file`, { token: admin });
    expect(redirect.status).toBe(302);
    const bytes = Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer());
    expect(md5(bytes)).toBe(image!.checksum);
    if (data) expect(bytes.equals(data)).toBe(true);
  } else {
    expect({ status, ...stored }).toEqual({ status, objects: [], uploads: [] });
    if (image) expect([image.location, image.upload]).toEqual([null, null]);
  }
  return status;
}

describe('a crash between a write and its side effect', () => {
  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      const outcome = outcomes.get(scenario.name)!;
      expect(outcome.told).toBe(scenario.told);
      if (scenario.retry) expect(outcome.retried).toBe(scenario.retryAnswer);
      const status = await expectConsistent(outcome.id, outcome.data);
      expect(scenario.ends).toContain(status);
      const owner = scenario.owner === 'admin' ? admin : token;
      if (scenario.tasks) {
        const listed = await runtime.call(`/v2/images/${outcome.id}/tasks`, { token: scenario.stores ? admin : owner });
        expect(listed.body.tasks.map((t: { status: string }) => t.status)).toEqual(scenario.tasks);
      }
      if (scenario.stores) {
        const image = (await runtime.stored(outcome.id))!;
        expect([...(image.stores ?? [])].sort()).toEqual(scenario.stores);
        expect(image.properties).toMatchObject({ os_glance_importing_to_stores: '', os_glance_failed_import: '' });
        if (scenario.stores.includes('eu')) expect(await runtime.storedBytes(outcome.id, EU_BUCKET)).toEqual({ objects: [image.location], uploads: [] });
      }
      scenario.check?.(outcome.id);
      // What a client sees agrees: a deleted image is gone, any other is there.
      expect((await runtime.call(`/v2/images/${outcome.id}`, { token: owner })).status).toBe(status === 'deleted' ? 404 : 200);
    });
  }

  it("the events relay, killed while it publishes an image's event: started again, the stream is read from where it was delivered to and the event is published", async () => {
    const id = randomUUID();
    runtime.holdAt([{ command: 'PutEvents', key: id }]);
    const created = await runtime.call('/v2/images', { method: 'POST', token, json: { id, name: 'relayed', ...RAW } });
    expect(created.status).toBe(201);
    await runtime.allHeld();
    await runtime.kill();
    runtime.clearFaults();
    await runtime.start();
    const events = join(dataDir, 'events.jsonl');
    const published = () => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { 'detail-type': string; detail: { id?: string } }) : []);
    const deadline = Date.now() + 30_000;
    while (!published().some((e) => e.detail.id === id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(published().filter((e) => e.detail.id === id).map((e) => e['detail-type'])).toEqual(['image.create']);
  });

  it('the expired-session sweep, killed between the store abort and the queued write: the next sweep finishes it', async () => {
    const id = await newImage();
    await uploadedParts(id, randomBytes(64 * 1024));
    // The sweep runs in a process of its own (npm run sweep): it is what dies here.
    runtime.killAt({ command: 'PutItem', key: id, imageStatus: 'queued' });
    await expect(runtime.sweep(new Date(Date.now() + 3 * 24 * 60 * MINUTES), [id])).rejects.toThrow(/sweep failed/);
    runtime.clearFaults();
    await runtime.sweep(new Date(Date.now() + 3 * 24 * 60 * MINUTES), [id]);
    expect(await expectConsistent(id, undefined)).toBe('queued');
  });
});
