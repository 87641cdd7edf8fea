import { Worker } from 'node:worker_threads';

/**
 * One worker thread per hash algorithm, shared by every upload in the process, so that MD5 and
 * SHA-512 of a streamed body run on other cores than the one reading the socket and feeding the
 * store (on one thread, MD5 + SHA-512 alone cost about 2× sha512sum: npm run bench, section 5).
 *
 * The bytes are not copied to the workers: each session owns a few blocks of shared memory; the
 * caller fills a block, hands its number to every worker, and may refill it once all of them
 * have hashed it. The workers' code is inline (eval), so it needs no file of its own next to a
 * bundle or a loader for TypeScript.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'start') {
    sessions.set(m.session, { hash: createHash(m.algorithm), blocks: m.blocks.map((b) => Buffer.from(b)) });
  } else if (m.type === 'update') {
    const s = sessions.get(m.session);
    s.hash.update(s.blocks[m.block].subarray(0, m.length));
    parentPort.postMessage({ type: 'hashed', session: m.session, block: m.block });
  } else if (m.type === 'finish') {
    const s = sessions.get(m.session);
    sessions.delete(m.session);
    parentPort.postMessage({ type: 'digest', session: m.session, hex: s.hash.digest('hex') });
  } else if (m.type === 'drop') {
    sessions.delete(m.session);
  }
});
`;

type FromWorker = { type: 'hashed'; session: number; block: number } | { type: 'digest'; session: number; hex: string };

interface SessionListener {
  hashed(block: number): void;
  digest(hex: string): void;
  failed(error: Error): void;
}

class HashWorker {
  private readonly worker: Worker;
  private readonly listeners = new Map<number, SessionListener>();
  private failure: Error | undefined;

  constructor(readonly algorithm: string) {
    // Plain JavaScript: none of the parent's loader flags (tsx locally), and a small heap (the
    // bytes are in shared memory, not on it): about 13 MiB of RSS per worker.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 } });
    this.worker.on('message', (m: FromWorker) => {
      const listener = this.listeners.get(m.session);
      if (!listener) return;
      if (m.type === 'hashed') listener.hashed(m.block);
      else {
        this.forget(m.session);
        listener.digest(m.hex);
      }
    });
    const fail = (error: Error) => {
      this.failure = error;
      for (const listener of this.listeners.values()) listener.failed(error);
      this.listeners.clear();
      if (workers.get(algorithm) === this) workers.delete(algorithm);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the ${algorithm} worker exited (${code})`)));
    // An idle worker does not keep the process alive (a CLI, a test run); one with sessions
    // does, or a digest still being computed would be lost. After the listeners: adding a
    // 'message' listener refs the worker again.
    this.worker.unref();
  }

  private forget(session: number): void {
    this.listeners.delete(session);
    if (this.listeners.size === 0) this.worker.unref();
  }

  start(session: number, blocks: SharedArrayBuffer[], listener: SessionListener): void {
    if (this.failure) throw this.failure;
    if (this.listeners.size === 0) this.worker.ref();
    this.listeners.set(session, listener);
    this.worker.postMessage({ type: 'start', session, algorithm: this.algorithm, blocks });
  }

  update(session: number, block: number, length: number): void {
    this.worker.postMessage({ type: 'update', session, block, length });
  }

  finish(session: number): void {
    this.worker.postMessage({ type: 'finish', session });
  }

  drop(session: number): void {
    this.forget(session);
    this.worker.postMessage({ type: 'drop', session });
  }
}

const workers = new Map<string, HashWorker>();
let sessions = 0;

/**
 * Block sets of finished sessions, kept for the next one. A worker hardly allocates, so it
 * rarely collects garbage, and a set it was given stays resident until it does: fresh blocks per
 * upload made the front's RSS creep by a set per upload (npm run bench, section 5). One set is
 * kept (16 MiB); more concurrent uploads allocate their own and leave them to the collector.
 */
const spareBlockSets = new Map<string, SharedArrayBuffer[]>();

function workerFor(algorithm: string): HashWorker {
  let worker = workers.get(algorithm);
  if (!worker) workers.set(algorithm, (worker = new HashWorker(algorithm)));
  return worker;
}

export interface ParallelHashOptions {
  /** Bytes per block handed to the workers. */
  blockSize: number;
  /** Blocks per session: the memory (blockSize × blocks) and how far the workers may lag behind. */
  blocks: number;
}

/**
 * Several hashes of one byte stream, each on its worker thread. `update` copies the bytes into
 * the session's blocks and returns a promise only when every block is still being hashed (the
 * caller then waits: backpressure). `digests` ends the stream; `dispose` drops an unfinished one.
 */
export class ParallelHashes {
  private readonly session = ++sessions;
  private readonly shared: SharedArrayBuffer[];
  private readonly views: Buffer[];
  private readonly workers: HashWorker[];
  /** Workers still hashing each block (0: free). */
  private readonly busy: number[];
  private readonly free: number[] = [];
  private readonly results = new Map<string, string>();
  private current: number | undefined;
  private filled = 0;
  private waiting: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private finishing: { resolve: (digests: Map<string, string>) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private disposed = false;

  constructor(
    algorithms: string[],
    private readonly options: ParallelHashOptions,
  ) {
    const spare = spareBlockSets.get(this.setKey);
    spareBlockSets.delete(this.setKey);
    this.shared = spare ?? Array.from({ length: options.blocks }, () => new SharedArrayBuffer(options.blockSize));
    this.views = this.shared.map((b) => Buffer.from(b));
    this.busy = this.shared.map(() => 0);
    for (let i = options.blocks - 1; i >= 0; i--) this.free.push(i);
    this.workers = algorithms.map(workerFor);
    for (const worker of this.workers) {
      worker.start(this.session, this.shared, {
        hashed: (block) => this.hashed(block),
        digest: (hex) => this.digested(worker.algorithm, hex),
        failed: (error) => this.fail(error),
      });
    }
  }

  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.current === undefined) {
        const block = this.free.pop();
        if (block === undefined) return this.untilFree().then(() => this.update(chunk.subarray(offset)));
        this.current = block;
        this.filled = 0;
      }
      const view = this.views[this.current] as Buffer;
      const n = Math.min(view.length - this.filled, chunk.byteLength - offset);
      view.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === view.length) this.hand();
    }
    return undefined;
  }

  /** Every algorithm's hex digest of the bytes given; the session is over. */
  digests(): Promise<Map<string, string>> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.current !== undefined) this.hand();
    return new Promise((resolve, reject) => {
      this.finishing = { resolve, reject };
      for (const worker of this.workers) worker.finish(this.session);
    });
  }

  /** Drops an unfinished session in the workers (the body broke off, or was refused). */
  dispose(): void {
    if (this.disposed || this.finishing) return;
    this.disposed = true;
    for (const worker of this.workers) worker.drop(this.session);
  }

  private hand(): void {
    const block = this.current as number;
    this.busy[block] = this.workers.length;
    for (const worker of this.workers) worker.update(this.session, block, this.filled);
    this.current = undefined;
    this.filled = 0;
  }

  private untilFree(): Promise<void> {
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  private hashed(block: number): void {
    if (--(this.busy[block] as number) > 0) return;
    this.free.push(block);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve();
  }

  private digested(algorithm: string, hex: string): void {
    this.results.set(algorithm, hex);
    if (this.results.size < this.workers.length) return;
    // Every worker is done with the blocks: the next session may have them.
    spareBlockSets.set(this.setKey, this.shared);
    this.finishing?.resolve(this.results);
  }

  private get setKey(): string {
    return `${this.options.blocks}x${this.options.blockSize}`;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waiting?.reject(error);
    this.finishing?.reject(error);
  }
}
