import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { activatedBy, ImageDigester, inBlocks, refusalReason, StreamingImageDigester, type ImageDigest } from '../../shared/app/image-digest.js';
import { sampleImage } from '../support/sample-image.js';

const dir = mkdtempSync(join(tmpdir(), 'skyglass-digest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real qcow2 (qemu-img), 64 MiB virtual, as a client would upload it. */
function qcow2(): Uint8Array {
  const path = join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, '64M']);
  return new Uint8Array(readFileSync(path));
}

function digestOf(bytes: Uint8Array, chunkSizes: number[]): ImageDigest {
  const digester = new ImageDigester();
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = chunkSizes[i % chunkSizes.length]!;
    digester.update(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return digester.finish();
}

async function* chunksOf(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

describe('ImageDigester: one pass over the bytes', () => {
  it('finds the size, MD5, SHA-512 and format whatever the chunk boundaries', () => {
    const bytes = qcow2();
    const whole = digestOf(bytes, [bytes.length]);
    expect(whole).toMatchObject({
      size: bytes.length,
      checksum: createHash('md5').update(bytes).digest('hex'),
      osHashValue: createHash('sha512').update(bytes).digest('hex'),
      inspection: { format: 'qcow2', virtualSize: 64 * 1024 * 1024, safetyIssues: [] },
    });
    expect(digestOf(bytes, [1, 7, 511, 65536])).toEqual(whole);
  });

  it('counts the bytes as they arrive', () => {
    const digester = new ImageDigester();
    digester.update(new Uint8Array(10));
    digester.update(new Uint8Array(5));
    expect(digester.bytes).toBe(15);
  });
});

describe('inBlocks', () => {
  it('regroups small chunks into blocks of at least the block size, keeping every byte in order', async () => {
    const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);
    const blocks: Uint8Array[] = [];
    for await (const block of inBlocks(chunksOf(bytes, 300), 4096)) blocks.push(block);
    expect(blocks.map((b) => b.byteLength)).toEqual([4200, 4200, 1600]);
    expect(Buffer.concat(blocks)).toEqual(Buffer.from(bytes));
  });
});

describe('refusalReason and activatedBy', () => {
  const bytes = qcow2();
  const digest = digestOf(bytes, [4096]);

  it('accepts the data the image declares', () => {
    const image = sampleImage({ status: 'saving', disk_format: 'qcow2', container_format: 'bare', size: bytes.length });
    expect(refusalReason(image, digest)).toBeNull();
    expect(activatedBy(image, digest)).toMatchObject({
      status: 'active',
      size: bytes.length,
      virtual_size: 64 * 1024 * 1024,
      checksum: digest.checksum,
      os_hash_algo: 'sha512',
      os_hash_value: digest.osHashValue,
      upload: null,
      failure: null,
    });
  });

  it('refuses a size other than the declared one', () => {
    const image = sampleImage({ status: 'saving', disk_format: 'qcow2', size: bytes.length + 1 });
    expect(refusalReason(image, digest)).toBe(`the data is ${bytes.length} bytes, but ${bytes.length + 1} were declared`);
  });

  it('refuses qcow2 data declared raw', () => {
    const image = sampleImage({ status: 'saving', disk_format: 'raw', size: null });
    expect(refusalReason(image, digest)).toBe('Image disk_format raw does not match the uploaded data, which is qcow2');
  });
});

describe('StreamingImageDigester: the same digest, hashed on worker threads', () => {
  async function streamedDigestOf(bytes: Uint8Array, chunkSizes: number[]): Promise<ImageDigest> {
    const digester = new StreamingImageDigester();
    let offset = 0;
    for (let i = 0; offset < bytes.length; i++) {
      const size = chunkSizes[i % chunkSizes.length]!;
      await digester.update(bytes.subarray(offset, offset + size));
      offset += size;
    }
    return digester.finish();
  }

  it('finds what ImageDigester finds, whatever the chunk boundaries, with chunks larger than all its blocks together', async () => {
    const image = qcow2();
    // The qcow2 followed by 20 MiB of varied bytes: more than the digester's 4 × 4 MiB blocks, so it waits for the workers.
    const bytes = new Uint8Array(image.length + 20 * 1024 * 1024);
    bytes.set(image);
    for (let i = image.length; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const expected = digestOf(bytes, [65536]);
    expect(await streamedDigestOf(bytes, [65536])).toEqual(expected);
    expect(await streamedDigestOf(bytes, [1, 7, 511, 1024 * 1024 + 3])).toEqual(expected);
    expect(await streamedDigestOf(bytes, [bytes.length])).toEqual(expected);
  });

  it('digests an empty body, and several bodies at once without mixing them', async () => {
    const empty = new StreamingImageDigester();
    expect(await empty.finish()).toEqual(new ImageDigester().finish());
    const bodies = [1, 2, 3].map((n) => Uint8Array.from({ length: n * 3 * 1024 * 1024 + n }, (_, i) => (i * n) % 253));
    const digests = await Promise.all(bodies.map((b) => streamedDigestOf(b, [65536 + 1])));
    expect(digests).toEqual(bodies.map((b) => digestOf(b, [b.length])));
  });

  it('can be dropped midway, and the next body still digests right', async () => {
    const dropped = new StreamingImageDigester();
    await dropped.update(new Uint8Array(3 * 1024 * 1024).fill(7));
    dropped.dispose();
    const bytes = Uint8Array.from({ length: 2 * 1024 * 1024 + 5 }, (_, i) => i % 241);
    expect(await streamedDigestOf(bytes, [4096])).toEqual(digestOf(bytes, [bytes.length]));
  });
});

describe('StreamingImageDigester: its worker threads and the process', () => {
  it('keep a process alive while a digest is being computed, and not once every digest is done or dropped', () => {
    const script = join(dir, 'digest-and-exit.mts');
    const module = join(import.meta.dirname, '../../shared/app/image-digest.ts');
    writeFileSync(
      script,
      `import { StreamingImageDigester } from ${JSON.stringify(module)};
const done = new StreamingImageDigester();
await done.update(Buffer.alloc(3 << 20, 1));
console.log((await done.finish()).checksum);
const dropped = new StreamingImageDigester();
await dropped.update(Buffer.alloc(3 << 20, 1));
dropped.dispose();
`,
    );
    // A hang would be this timeout's kill (status null); an early exit would lose the checksum (status 13).
    const run = spawnSync('npx', ['tsx', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect({ status: run.status, stdout: run.stdout.trim() }).toEqual({ status: 0, stdout: createHash('md5').update(Buffer.alloc(3 << 20, 1)).digest('hex') });
  }, 90_000);
});
