/**
 * The streaming format inspector against REAL images made by `qemu-img`
 * (Debian package qemu-utils), plus hostile images derived from them.
 *
 * Every fixture is fed in random-sized chunks (1 byte .. 64 KiB) several times
 * to prove the inspector never needs a second read; sizes are compared with
 * `qemu-img info --output=json`. LUKS images come from `cryptsetup` (Debian package
 * cryptsetup-bin) and from qemu-img's luks driver. Optional tools (genisoimage/xorriso from the
 * packages of the same name, sgdisk from gdisk) add tool-made ISO/GPT fixtures;
 * without them the ISO/GPT structures are built by hand.
 *
 * Set INSPECTOR_SEED to replay a chunking.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkFormatMatches,
  FormatInspector,
  inspectBytes,
  type InspectionResult,
} from '../../shared/domain/format-inspector.js';

const QEMU_HELP =
  'qemu-img is required by the format-inspector tests: install the Debian package qemu-utils ' +
  '(apt-get update && apt-get install -y --no-install-recommends qemu-utils)';

const CRYPTSETUP_HELP =
  'cryptsetup is required by the format-inspector tests (real LUKS images): install the Debian package cryptsetup-bin ' +
  '(apt-get update && apt-get install -y --no-install-recommends cryptsetup-bin)';

const SEED = Number(process.env.INSPECTOR_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MiB = 1024 * 1024;

function has(cmd: string, arg = '--version'): boolean {
  const r = spawnSync(cmd, [arg], { stdio: 'ignore' });
  return r.error === undefined;
}

/** mulberry32: small, seedable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Chunk sizes from 1 byte to 64 KiB, biased towards tiny ones so boundaries land everywhere. */
function chunkSize(r: () => number): number {
  const max = [16, 4096, 65536][Math.floor(r() * 3)]!;
  return 1 + Math.floor(r() * max);
}

function feed(bytes: Uint8Array, seed: number): { result: InspectionResult; peak: number } {
  const r = rng(seed);
  const inspector = new FormatInspector();
  let peak = 0;
  for (let off = 0; off < bytes.length; ) {
    const n = chunkSize(r);
    inspector.update(bytes.subarray(off, off + n));
    off += n;
    peak = Math.max(peak, inspector.bufferedBytes);
  }
  return { result: inspector.finish(bytes.length), peak };
}

/** Inspect in three random chunkings and in one piece; all must agree. */
function inspect(bytes: Uint8Array, label: string): InspectionResult {
  const whole = inspectBytes(bytes);
  for (let i = 0; i < 3; i++) {
    const seed = SEED + i;
    const { result, peak } = feed(bytes, seed);
    expect(result, `${label}: chunking with INSPECTOR_SEED=${seed} differs from a single chunk`).toEqual(whole);
    expect(peak, `${label}: buffered ${peak} bytes`).toBeLessThan(2 * MiB);
  }
  return whole;
}

let dir = '';
const file = (name: string) => join(dir, name);
const read = (name: string) => new Uint8Array(readFileSync(file(name)));

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/**
 * qemu's luks driver times PBKDF2 on the thread's CPU clock before it writes the header, and
 * gives up with "Unable to get accurate CPU usage" when that clock does not advance (seen on a
 * loaded 2-core CI machine). That is the fixture's tool failing, not the inspector: try again.
 */
function qemuImgLuks(...args: string[]): string {
  for (let attempt = 1; ; attempt++) {
    try {
      return qemuImg(...args);
    } catch (error) {
      if (attempt >= 5 || !String((error as { stderr?: Buffer }).stderr ?? '').includes('Unable to get accurate CPU usage')) throw error;
    }
  }
}

/** A LUKS image of `size` made by cryptsetup (cheap PBKDF2, the key from stdin). */
function luksFormat(name: string, size: string, ...options: string[]): void {
  execFileSync('truncate', ['-s', size, file(name)]);
  execFileSync('cryptsetup', ['luksFormat', '--batch-mode', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', '-', ...options, file(name)], {
    input: 'not-a-secret',
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}

/** `Payload offset` (sectors) of a LUKS1 header, as cryptsetup reports it. */
function luksPayloadOffset(name: string): number {
  const dump = execFileSync('cryptsetup', ['luksDump', file(name)]).toString();
  return Number(/Payload offset:\s*(\d+)/.exec(dump)?.[1]);
}

function qemuVirtualSize(name: string, format: string): number {
  const info = JSON.parse(qemuImg('info', '--output=json', '-f', format, name)) as { 'virtual-size': number };
  return info['virtual-size'];
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** A minimal ISO 9660 image: primary volume descriptor at sector 16, terminator at 17. */
function handmadeIso(blocks: number): Uint8Array {
  const b = new Uint8Array(blocks * 2048);
  const dv = new DataView(b.buffer);
  const pvd = 16 * 2048;
  b[pvd] = 1;
  b.set(ascii('CD001'), pvd + 1);
  b[pvd + 6] = 1;
  dv.setUint32(pvd + 80, blocks, true);
  dv.setUint32(pvd + 84, blocks, false);
  dv.setUint16(pvd + 128, 2048, true);
  dv.setUint16(pvd + 130, 2048, false);
  const term = 17 * 2048;
  b[term] = 255;
  b.set(ascii('CD001'), term + 1);
  b[term + 6] = 1;
  return b;
}

/** Protective MBR + GPT header at LBA 1 (enough for detection), written into `b`. */
function writeGpt(b: Uint8Array): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const pte = 446;
  b.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], pte);
  dv.setUint32(pte + 8, 1, true);
  dv.setUint32(pte + 12, Math.min(b.length / 512 - 1, 0xffffffff), true);
  b[510] = 0x55;
  b[511] = 0xaa;
  b.set(ascii('EFI PART'), 512);
  dv.setUint32(520, 0x00010000, true);
  dv.setUint32(524, 92, true);
  dv.setBigUint64(536, 1n, true);
  dv.setBigUint64(544, BigInt(b.length / 512 - 1), true);
  return b;
}

/** Replace the embedded descriptor of a sparse VMDK (NUL-padded, same length). */
function patchVmdkDescriptor(bytes: Uint8Array, edit: (text: string) => string): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  const start = Number(dv.getBigUint64(28, true)) * 512;
  const size = Number(dv.getBigUint64(36, true)) * 512;
  const region = out.subarray(start, start + size);
  const end = region.indexOf(0);
  const text = edit(String.fromCharCode(...region.subarray(0, end < 0 ? size : end)));
  expect(text.length).toBeLessThan(size);
  region.fill(0);
  region.set(ascii(text));
  return out;
}

const tools = { genisoimage: false, xorriso: false, sgdisk: false };

describe('format inspector prerequisites', () => {
  it('has qemu-img (Debian package qemu-utils)', () => {
    expect(has('qemu-img'), QEMU_HELP).toBe(true);
  });
  it('has cryptsetup (Debian package cryptsetup-bin)', () => {
    expect(has('cryptsetup'), CRYPTSETUP_HELP).toBe(true);
  });
});

// Everything below needs the fixtures (and so qemu-img).
describe('format inspector', () => {
  beforeAll(() => {
    if (!has('qemu-img')) throw new Error(QEMU_HELP);
    if (!has('cryptsetup')) throw new Error(CRYPTSETUP_HELP);
    tools.genisoimage = has('genisoimage');
    tools.xorriso = has('xorriso', '-version');
    tools.sgdisk = has('sgdisk');
    dir = mkdtempSync(join(tmpdir(), 'skyglass-inspector-'));

    qemuImg('create', '-q', '-f', 'raw', 'disk.raw', '4M');
    qemuImg('create', '-q', '-f', 'qcow2', 'disk.qcow2', '1G');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', 'v2.qcow2', '64M');
    qemuImg('create', '-q', '-f', 'qcow2', 'base.qcow2', '64M');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'overlay.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'data_file=external.raw', 'datafile.qcow2', '16M');
    qemuImg('create', '-q', '-f', 'vpc', 'dynamic.vhd', '100M');
    qemuImg('create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', 'fixed.vhd', '10M');
    qemuImg('create', '-q', '-f', 'vhdx', 'disk.vhdx', '1G');
    qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicSparse', 'sparse.vmdk', '1G');
    qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', 'stream.vmdk', '1G');
    qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', 'flat.vmdk', '8M');
    qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', 'twogb.vmdk', '3G');
    qemuImg('create', '-q', '-f', 'vdi', 'disk.vdi', '100M');
    // QED: the issue's exploit (a backing file that is the host's /etc/shadow, read as raw), and a plain one.
    qemuImg('create', '-q', '-f', 'qed', '-b', '/etc/shadow', '-F', 'raw', 'shadow.qed');
    qemuImg('create', '-q', '-f', 'qed', 'disk.qed', '64M');
    // LUKS: version 1 from cryptsetup and from qemu's luks driver, version 2 (cryptsetup's default).
    luksFormat('luks1.img', '3M', '--type', 'luks1');
    qemuImgLuks('create', '-q', '-f', 'luks', '--object', 'secret,id=sec0,data=not-a-secret', '-o', 'key-secret=sec0', 'qemu.luks', '4M');
    luksFormat('luks2.img', '2M', '--type', 'luks2', '--luks2-metadata-size', '16k', '--luks2-keyslots-size', '256k');

    // streamOptimized as VMware writes it in one pass: grain directory "at end",
    // the real header in a footer. The footer's capacity differs on purpose:
    // qemu (and the inspector) must take it from the footer.
    const so = read('stream.vmdk');
    const header = so.slice(0, 512);
    new DataView(header.buffer).setBigUint64(12, 2n * 1024n * 1024n * 2n, true); // 2 GiB
    const patched = so.slice();
    new DataView(patched.buffer).setBigUint64(56, 0xffffffffffffffffn, true);
    const marker = new Uint8Array(512);
    new DataView(marker.buffer).setUint32(12, 3, true);
    writeFileSync(file('footer.vmdk'), Buffer.concat([patched, marker, header, new Uint8Array(512)]));

    if (tools.genisoimage || tools.xorriso) {
      execFileSync('mkdir', ['-p', file('isosrc')]);
      writeFileSync(file('isosrc/hello.txt'), 'hello\n');
    }
    if (tools.genisoimage) execFileSync('genisoimage', ['-quiet', '-o', file('tool.iso'), file('isosrc')], { stdio: 'ignore' });
    if (tools.xorriso) {
      writeFileSync(file('efi.img'), new Uint8Array(MiB));
      execFileSync(
        'xorriso',
        ['-as', 'mkisofs', '-quiet', '-o', file('hybrid.iso'), '-partition_offset', '16', '-appended_part_as_gpt',
          '-append_partition', '2', '0xef', file('efi.img'), file('isosrc')],
        { stdio: 'ignore' },
      );
    }
    if (tools.sgdisk) {
      qemuImg('create', '-q', '-f', 'raw', 'gpt.raw', '8M');
      execFileSync('sgdisk', ['-n', '1:2048:0', file('gpt.raw')], { stdio: 'ignore' });
    }
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('format inspector on qemu-img images', () => {
    const good: { name: string; qemuFormat: string; format: string }[] = [
      { name: 'disk.qcow2', qemuFormat: 'qcow2', format: 'qcow2' },
      { name: 'v2.qcow2', qemuFormat: 'qcow2', format: 'qcow2' },
      { name: 'base.qcow2', qemuFormat: 'qcow2', format: 'qcow2' },
      { name: 'dynamic.vhd', qemuFormat: 'vpc', format: 'vhd' },
      { name: 'fixed.vhd', qemuFormat: 'vpc', format: 'vhd' },
      { name: 'disk.vhdx', qemuFormat: 'vhdx', format: 'vhdx' },
      { name: 'sparse.vmdk', qemuFormat: 'vmdk', format: 'vmdk' },
      { name: 'stream.vmdk', qemuFormat: 'vmdk', format: 'vmdk' },
      { name: 'footer.vmdk', qemuFormat: 'vmdk', format: 'vmdk' },
      { name: 'disk.vdi', qemuFormat: 'vdi', format: 'vdi' },
      { name: 'disk.raw', qemuFormat: 'raw', format: 'raw' },
    ];

    for (const c of good) {
      it(`${c.name}: detected as ${c.format}, virtual size as qemu-img says, safe`, () => {
        const r = inspect(read(c.name), c.name);
        expect(r.format).toBe(c.format);
        expect(r.safetyIssues).toEqual([]);
        expect(r.virtualSize).toBe(qemuVirtualSize(c.name, c.qemuFormat));
        expect(checkFormatMatches(c.format, r)).toBeNull();
      });
    }

    it('the VMDK stream footer really overrides the header (2 GiB, not 1 GiB)', () => {
      expect(inspect(read('footer.vmdk'), 'footer.vmdk').virtualSize).toBe(2 * 1024 * MiB);
    });

    it('a structured image labelled raw is refused; a qcow2 labelled vmdk is refused', () => {
      for (const name of ['disk.qcow2', 'dynamic.vhd', 'fixed.vhd', 'disk.vhdx', 'sparse.vmdk', 'disk.vdi']) {
        expect(checkFormatMatches('raw', inspect(read(name), name)), name).toMatch(/does not match/);
      }
      expect(checkFormatMatches('vmdk', inspect(read('disk.qcow2'), 'qcow2'))).toMatch(/disk_format vmdk .* qcow2/);
    });

    it('a qcow2 with a backing file is refused', () => {
      const r = inspect(read('overlay.qcow2'), 'overlay');
      expect(r.format).toBe('qcow2');
      expect(r.virtualSize).toBe(qemuVirtualSize('overlay.qcow2', 'qcow2'));
      expect(r.safetyIssues).toContain('qcow2 image has a backing file');
      expect(checkFormatMatches('qcow2', r)).toMatch(/safety checks.*backing file/);
      expect(checkFormatMatches('raw', r)).not.toBeNull();
    });

    it('a qcow2 with an external data file is refused', () => {
      const r = inspect(read('datafile.qcow2'), 'datafile');
      expect(r.format).toBe('qcow2');
      expect(r.safetyIssues).toContain('qcow2 image uses an external data file');
      expect(checkFormatMatches('qcow2', r)).toMatch(/external data file/);
    });

    it('a qcow2 with an unknown incompatible feature bit is refused', () => {
      const b = read('disk.qcow2');
      b[79]! |= 0x20; // bit 5: nothing qemu knows
      const r = inspect(b, 'incompat');
      expect(r.safetyIssues.join()).toMatch(/unknown incompatible features \(0x20\)/);
      // Known bits (dirty, compression type, extended L2) are fine.
      const ok = read('disk.qcow2');
      ok[79]! |= 0x19;
      expect(inspect(ok, 'known bits').safetyIssues).toEqual([]);
    });

    it('VMDK monolithicFlat and twoGbMaxExtentSparse (descriptor files) are refused', () => {
      for (const [name, type] of [['flat.vmdk', 'monolithicFlat'], ['twogb.vmdk', 'twoGbMaxExtentSparse']] as const) {
        const r = inspect(read(name), name);
        expect(r.format).toBe('vmdk');
        expect(r.safetyIssues.join('\n')).toContain(`createType "${type}" is not allowed`);
        expect(r.safetyIssues.join('\n')).toMatch(/extent references another file/);
        expect(checkFormatMatches('vmdk', r)).toMatch(/safety checks/);
      }
    });

    it('a QED image is refused whatever it is declared as (Glance bans the format), its backing file named', () => {
      for (const name of ['disk.qed', 'shadow.qed']) {
        const r = inspect(read(name), name);
        expect(r.format, name).toBe('qed');
        expect(r.virtualSize, name).toBe(qemuVirtualSize(name, 'qed'));
        expect(r.safetyIssues, name).toContain('QED images are not allowed (Glance bans the format)');
        for (const declared of ['raw', 'qcow2', 'ami', null]) expect(checkFormatMatches(declared, r), `${name} as ${declared}`).toMatch(/safety checks.*QED/);
      }
      expect(inspect(read('shadow.qed'), 'shadow.qed').safetyIssues).toContain('QED image has a backing file');
      expect(inspect(read('disk.qed'), 'disk.qed').safetyIssues).not.toContain('QED image has a backing file');
    });

    it('LUKS version 1 (cryptsetup, qemu) is luks, sized as qemu sizes it, and refused as raw or any other format', () => {
      const qemuSize = Number(
        JSON.parse(
          qemuImg('info', '--output=json', '--object', 'secret,id=sec0,data=not-a-secret', '--image-opts', 'driver=luks,key-secret=sec0,file.filename=qemu.luks'),
        )['virtual-size'],
      );
      for (const [name, virtualSize] of [
        ['luks1.img', 3 * MiB - luksPayloadOffset('luks1.img') * 512],
        ['qemu.luks', qemuSize],
      ] as const) {
        const r = inspect(read(name), name);
        expect(r, name).toEqual({ format: 'luks', virtualSize, safetyIssues: [] });
        for (const declared of ['raw', 'qcow2', 'iso', 'ami', 'ploop']) {
          expect(checkFormatMatches(declared, r), `${name} as ${declared}`).toMatch(new RegExp(`disk_format ${declared} does not match .* luks`));
        }
      }
      expect(qemuSize).toBe(4 * MiB);
    });

    it('LUKS version 2 is refused as unsupported (as oslo\'s inspector does)', () => {
      const r = inspect(read('luks2.img'), 'luks2');
      expect(r.format).toBe('luks');
      expect(r.safetyIssues).toContain('LUKS version 2 is not supported');
      expect(checkFormatMatches('raw', r)).toMatch(/safety checks.*LUKS version 2/);
    });

    it('garbage labelled qcow2 is raw, and refused as qcow2', () => {
      const r = inspect(new Uint8Array(randomBytes(MiB + 12345)), 'garbage');
      expect(r.format).toBe('raw');
      expect(r.virtualSize).toBe(MiB + 12345);
      expect(r.safetyIssues).toEqual([]);
      expect(checkFormatMatches('qcow2', r)).toMatch(/disk_format qcow2 does not match .* raw/);
      expect(checkFormatMatches('raw', r)).toBeNull();
    });
  });

  describe('format inspector on hostile images', () => {
    it('truncated qcow2 headers', () => {
      const q = read('disk.qcow2');
      for (const n of [4, 50, 71]) {
        const r = inspect(q.subarray(0, n), `qcow2[0:${n}]`);
        expect(r.format).toBe('qcow2');
        expect(r.safetyIssues.join()).toMatch(/^truncated header/);
        expect(checkFormatMatches('qcow2', r)).not.toBeNull();
      }
      // Version 3 needs 104 bytes.
      expect(inspect(q.subarray(0, 90), 'v3[0:90]').safetyIssues.join()).toMatch(/truncated header: qcow2 version 3 needs 104/);
      // Version 2 is complete at 72.
      expect(inspect(read('v2.qcow2').subarray(0, 72), 'v2[0:72]').safetyIssues).toEqual([]);
    });

    it('truncated VHDX, VMDK, VDI and ISO headers', () => {
      const cases: [string, Uint8Array][] = [
        ['vhdx', read('disk.vhdx').subarray(0, 200 * 1024)],
        ['vhdx', read('disk.vhdx').subarray(0, 2 * MiB + 100)],
        ['vmdk', read('sparse.vmdk').subarray(0, 300)],
        ['vmdk', read('sparse.vmdk').subarray(0, 4000)],
        ['vdi', read('disk.vdi').subarray(0, 0x100)],
        ['iso', handmadeIso(64).subarray(0, 33 * 1024)],
        ['qed', read('shadow.qed').subarray(0, 40)],
        ['luks', read('luks1.img').subarray(0, 7)],
        ['luks', read('luks1.img').subarray(0, 300)],
      ];
      for (const [format, bytes] of cases) {
        const r = inspect(bytes, `${format} truncated to ${bytes.length}`);
        expect(r.format, `${format} ${bytes.length}`).toBe(format);
        expect(r.safetyIssues.join(), `${format} ${bytes.length}`).toMatch(/truncated header/);
      }
    });

    it('a text VMDK descriptor whose extent is /etc/passwd is refused', () => {
      const desc = [
        '# Disk DescriptorFile',
        'version=1',
        'CID=12345678',
        'parentCID=ffffffff',
        'createType="monolithicFlat"',
        '',
        '# Extent description',
        'RW 2048 FLAT "/etc/passwd" 0',
        '',
        'ddb.adapterType = "ide"',
        '',
      ].join('\n');
      const r = inspect(ascii(desc), 'passwd descriptor');
      expect(r.format).toBe('vmdk');
      expect(r.safetyIssues.join('\n')).toContain('VMDK extent references a path outside the image: "/etc/passwd"');
      expect(checkFormatMatches('vmdk', r)).toMatch(/safety checks/);
      expect(checkFormatMatches('raw', r)).not.toBeNull();
    });

    it('a monolithicSparse VMDK whose embedded extent points at /etc/passwd is refused', () => {
      const b = patchVmdkDescriptor(read('sparse.vmdk'), (t) => t.replace(/"sparse\.vmdk"/, '"/etc/passwd"'));
      const r = inspect(b, 'sparse passwd');
      expect(r.format).toBe('vmdk');
      expect(r.safetyIssues).toEqual(['VMDK extent references a path outside the image: "/etc/passwd"']);
    });

    it('a sparse VMDK naming a parent, with extra extents, or a disallowed createType is refused', () => {
      const sparse = read('sparse.vmdk');
      const parent = patchVmdkDescriptor(sparse, (t) =>
        t.replace('parentCID=ffffffff', 'parentCID=ffffffff\n# parentFileNameHint="base.vmdk"'),
      );
      expect(inspect(parent, 'parent').safetyIssues.join()).toMatch(/parent image/);
      const two = patchVmdkDescriptor(sparse, (t) =>
        t.replace(/(RW \d+ SPARSE "sparse\.vmdk")/, '$1\nRW 100 SPARSE "other.vmdk"'),
      );
      expect(inspect(two, 'two extents').safetyIssues.join()).toMatch(/2 extents/);
      const vmfs = patchVmdkDescriptor(sparse, (t) => t.replace('createType="monolithicSparse"', 'createType="vmfs"'));
      expect(inspect(vmfs, 'vmfs').safetyIssues.join()).toMatch(/createType "vmfs" is not allowed/);
      const junk = patchVmdkDescriptor(sparse, (t) => `${t}\nthis is not a descriptor line\n`);
      expect(inspect(junk, 'junk').safetyIssues.join()).toMatch(/unrecognised line/);
    });

    it('a sparse VMDK header with zero capacity or an oversized descriptor is refused', () => {
      const zero = read('sparse.vmdk');
      new DataView(zero.buffer).setBigUint64(12, 0n, true);
      expect(inspect(zero, 'capacity 0').safetyIssues.join()).toMatch(/zero capacity/);

      const huge = read('sparse.vmdk');
      new DataView(huge.buffer).setBigUint64(36, 0x100000n, true); // 512 MiB of descriptor
      const r = inspect(huge, 'huge descriptor');
      expect(r.format).toBe('vmdk');
      expect(r.safetyIssues.join()).toMatch(/descriptor of 536870912 bytes exceeds/);

      const far = read('sparse.vmdk');
      new DataView(far.buffer).setBigUint64(28, 0xffffffffffn, true);
      expect(inspect(far, 'far descriptor').safetyIssues.join()).toMatch(/descriptor is at sector/);
    });

    it('a VMDK stream footer that does not check out is refused', () => {
      const b = read('footer.vmdk');
      b[b.length - 1024 - 512 + 12] = 7; // footer marker type
      expect(inspect(b, 'bad footer').safetyIssues.join()).toMatch(/footer marker is invalid/);
    });

    it('a differencing VHD is refused', () => {
      const b = read('dynamic.vhd');
      const dv = new DataView(b.buffer);
      dv.setUint32(60, 4);
      dv.setUint32(b.length - 512 + 60, 4);
      expect(inspect(b, 'differencing').safetyIssues.join()).toMatch(/differencing/);
    });

    it('a polyglot (qcow2 with a VHD footer appended, qcow2 with a GPT) is refused', () => {
      const q = read('disk.qcow2');
      const vhdFooter = read('fixed.vhd').slice(-512);
      const r = inspect(new Uint8Array(Buffer.concat([q, vhdFooter])), 'qcow2+vhd');
      expect(r.safetyIssues.join()).toMatch(/multiple formats detected: qcow2, vhd/);
      const g = writeGpt(new Uint8Array(MiB));
      g.set(q.subarray(0, 104));
      expect(inspect(g, 'qcow2+gpt').safetyIssues.join()).toMatch(/multiple formats detected: qcow2, gpt/);
    });

    it('VHDX with broken region or metadata tables does not throw and is refused', () => {
      const base = read('disk.vhdx').subarray(0, 4 * MiB);
      const mutate = (f: (dv: DataView, b: Uint8Array) => void) => {
        const b = base.slice();
        f(new DataView(b.buffer), b);
        return inspect(b, 'vhdx mutant');
      };
      expect(mutate((dv) => dv.setUint32(192 * 1024 + 8, 0xffffffff, true)).safetyIssues.join()).toMatch(/region table has/);
      expect(mutate((_, b) => b.fill(0, 192 * 1024, 196 * 1024)).safetyIssues.join()).toMatch(/region table signature/);
      // Point the metadata region far beyond the end of the file.
      expect(
        mutate((dv) => {
          for (let i = 0; i < 4; i++) dv.setBigUint64(192 * 1024 + 16 + i * 32 + 16, 1n << 50n, true);
        }).safetyIssues.join(),
      ).toMatch(/metadata region|beyond the end/);
      expect(mutate((dv) => dv.setBigUint64(192 * 1024 + 16 + 16, 1n << 62n, true)).format).toBe('vhdx');
    });

    it('random corruption of real headers never throws and keeps memory bounded', () => {
      const r = rng(SEED);
      const sources = ['disk.qcow2', 'dynamic.vhd', 'disk.vhdx', 'sparse.vmdk', 'stream.vmdk', 'disk.vdi', 'flat.vmdk', 'shadow.qed', 'luks1.img'].map(
        (n) => read(n).subarray(0, 3 * MiB),
      );
      for (let i = 0; i < 150; i++) {
        const b = sources[i % sources.length]!.slice();
        const flips = 1 + Math.floor(r() * 32);
        for (let k = 0; k < flips; k++) {
          // Mostly in the headers, sometimes in the VHDX region/metadata tables.
          const pos = r() < 0.7 ? Math.floor(r() * 1024) : Math.floor(r() * Math.min(b.length, 2 * MiB + 70 * 1024));
          b[pos] = Math.floor(r() * 256);
        }
        const { result, peak } = feed(b, SEED + i);
        expect(['raw', 'qcow2', 'vhd', 'vhdx', 'vmdk', 'vdi', 'iso', 'gpt', 'qed', 'luks']).toContain(result.format);
        expect(result.virtualSize === null || Number.isSafeInteger(result.virtualSize)).toBe(true);
        expect(peak).toBeLessThan(2 * MiB);
      }
    });
  });

  describe('ISO and GPT', () => {
    it('a hand-made ISO 9660 image', () => {
      const r = inspect(handmadeIso(200), 'iso');
      expect(r).toEqual({ format: 'iso', virtualSize: 200 * 2048, safetyIssues: [] });
      expect(checkFormatMatches('iso', r)).toBeNull();
      expect(checkFormatMatches('raw', r)).toBeNull();
      expect(checkFormatMatches('qcow2', r)).toMatch(/does not match/);
    });

    it('a hand-made GPT disk is gpt, fine as raw, not as iso or qcow2', () => {
      const r = inspect(writeGpt(new Uint8Array(4 * MiB)), 'gpt');
      expect(r).toEqual({ format: 'gpt', virtualSize: 4 * MiB, safetyIssues: [] });
      expect(checkFormatMatches('raw', r)).toBeNull();
      expect(checkFormatMatches('iso', r)).toMatch(/does not match/);
      expect(checkFormatMatches('qcow2', r)).toMatch(/does not match/);
    });

    it('a hand-made ISO+GPT hybrid is iso (Glance allows iso+gpt)', () => {
      const r = inspect(writeGpt(handmadeIso(300)), 'hybrid');
      expect(r).toEqual({ format: 'iso', virtualSize: 300 * 2048, safetyIssues: [] });
      expect(checkFormatMatches('iso', r)).toBeNull();
      expect(checkFormatMatches('raw', r)).toBeNull();
    });

    it('a fixed VHD of a GPT disk is vhd', () => {
      const disk = writeGpt(new Uint8Array(read('fixed.vhd').length - 512));
      const r = inspect(new Uint8Array(Buffer.concat([disk, read('fixed.vhd').slice(-512)])), 'vhd of gpt');
      expect(r.format).toBe('vhd');
      expect(r.safetyIssues).toEqual([]);
    });

    it.runIf(has('genisoimage'))('an ISO made by genisoimage', () => {
      const b = read('tool.iso');
      const r = inspect(b, 'genisoimage');
      expect(r).toEqual({ format: 'iso', virtualSize: b.length, safetyIssues: [] });
    });

    it.runIf(has('xorriso', '-version'))('an ISO with an appended GPT partition made by xorriso', () => {
      const r = inspect(read('hybrid.iso'), 'xorriso');
      expect(r.format).toBe('iso');
      expect(r.safetyIssues).toEqual([]);
      expect(r.virtualSize).toBeGreaterThan(0);
      expect(checkFormatMatches('iso', r)).toBeNull();
    });

    it.runIf(has('sgdisk'))('a raw disk partitioned by sgdisk', () => {
      const r = inspect(read('gpt.raw'), 'sgdisk');
      expect(r).toEqual({ format: 'gpt', virtualSize: 8 * MiB, safetyIssues: [] });
      expect(checkFormatMatches('raw', r)).toBeNull();
    });
  });

  describe('streaming and memory', () => {
    it('64 MiB of zeros: raw, and the inspector holds well under 2 MiB', () => {
      const zeros = new Uint8Array(64 * 1024);
      const r = rng(SEED);
      const inspector = new FormatInspector();
      let total = 0;
      let peak = 0;
      while (total < 64 * MiB) {
        const n = Math.min(chunkSize(r), 64 * MiB - total);
        inspector.update(zeros.subarray(0, n));
        total += n;
        peak = Math.max(peak, inspector.bufferedBytes);
      }
      expect(peak).toBeLessThan(2 * MiB);
      expect(inspector.finish(total)).toEqual({ format: 'raw', virtualSize: 64 * MiB, safetyIssues: [] });
    });

    it('one huge chunk is handled the same as many small ones', () => {
      const b = read('disk.vhdx');
      const inspector = new FormatInspector();
      inspector.update(b);
      expect(inspector.bufferedBytes).toBeLessThan(2 * MiB);
      expect(inspector.finish(b.length).virtualSize).toBe(1024 * MiB);
    });

    it('a size that disagrees with the bytes fed is a safety issue; update after finish throws', () => {
      const inspector = new FormatInspector();
      inspector.update(new Uint8Array(1000));
      expect(inspector.finish(2000).safetyIssues.join()).toMatch(/fed 1000 bytes but the image size is 2000/);
      expect(() => inspector.update(new Uint8Array(1))).toThrow();
      expect(new FormatInspector().finish(0)).toEqual({ format: 'raw', virtualSize: 0, safetyIssues: [] });
    });
  });

  describe('checkFormatMatches (Glance rules)', () => {
    const result = (format: InspectionResult['format'], safetyIssues: string[] = []): InspectionResult => ({
      format,
      virtualSize: 1,
      safetyIssues,
    });

    it('self-describing formats must be detected as themselves', () => {
      for (const f of ['qcow2', 'vhd', 'vhdx', 'vmdk', 'vdi', 'iso'] as const) {
        expect(checkFormatMatches(f, result(f))).toBeNull();
        expect(checkFormatMatches(f, result('raw'))).toMatch(new RegExp(`disk_format ${f} does not match`));
      }
      expect(checkFormatMatches('iso', result('gpt'))).not.toBeNull();
    });

    it('raw may be gpt or iso, never a structured format', () => {
      for (const f of ['raw', 'gpt', 'iso'] as const) expect(checkFormatMatches('raw', result(f))).toBeNull();
      for (const f of ['qcow2', 'vhd', 'vhdx', 'vmdk', 'vdi', 'qed', 'luks'] as const) {
        expect(checkFormatMatches('raw', result(f))).not.toBeNull();
      }
    });

    it('formats Glance does not inspect pass (unless the data is a structured format)', () => {
      for (const f of ['ami', 'ari', 'aki', 'ploop']) {
        expect(checkFormatMatches(f, result('raw'))).toBeNull();
        expect(checkFormatMatches(f, result('gpt'))).toBeNull();
        expect(checkFormatMatches(f, result('qcow2'))).not.toBeNull();
      }
    });

    it('any safety issue refuses, whatever the declared format', () => {
      for (const f of ['qcow2', 'raw', 'ami', null]) {
        expect(checkFormatMatches(f, result('qcow2', ['qcow2 image has a backing file']))).toMatch(/backing file/);
      }
      expect(checkFormatMatches(null, result('qcow2'))).toBeNull();
    });
  });
});
