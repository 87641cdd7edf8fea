import { closeSync, openSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';

const MiB = 1024 * 1024;

/** Random bytes, written in 16 MiB slices (incompressible, so nothing on the way can cheat). */
export function writeRandomFile(path: string, bytes: number): void {
  const slice = Buffer.allocUnsafe(16 * MiB);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const n = Math.min(slice.length, bytes - written);
      randomFillSync(slice, 0, n);
      for (let off = 0; off < n; ) off += writeSync(fd, slice, off, n - off);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
}
