import { readFile, rename, writeFile } from 'node:fs/promises';

/** A part S3 holds for an upload, as ListParts reports it. */
export interface PartRecord {
  partNumber: number;
  /** Quoted, as S3 returns it: `"<md5 hex>"`. */
  etag: string;
  size: number;
  lastModified: string;
}

export interface UploadRecord {
  bucket: string;
  key: string;
  uploadId: string;
  initiated: string;
  parts: Record<string, PartRecord>;
}

interface StateFile {
  version: 1;
  uploads: UploadRecord[];
}

/**
 * The multipart uploads in progress, which s3rver does not track well enough (no ListParts, no
 * Abort, any uploadId accepted). Kept in memory and written to a JSON file after every change,
 * so a restart with the same data directory still lists and completes them.
 */
export class UploadRegistry {
  private readonly uploads = new Map<string, UploadRecord>();
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(private readonly file: string) {}

  static async open(file: string): Promise<UploadRegistry> {
    const registry = new UploadRegistry(file);
    try {
      const state = JSON.parse(await readFile(file, 'utf8')) as StateFile;
      for (const upload of state.uploads ?? []) registry.uploads.set(upload.uploadId, upload);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return registry;
  }

  get(uploadId: string): UploadRecord | undefined {
    return this.uploads.get(uploadId);
  }

  /** The upload, if it exists and belongs to this bucket and key (S3 answers NoSuchUpload otherwise). */
  find(bucket: string, key: string, uploadId: string): UploadRecord | undefined {
    const upload = this.uploads.get(uploadId);
    return upload && upload.bucket === bucket && upload.key === key ? upload : undefined;
  }

  /** Uploads of one bucket, in ListMultipartUploads order: key, then initiation time. */
  list(bucket: string): UploadRecord[] {
    return [...this.uploads.values()]
      .filter((u) => u.bucket === bucket)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated.localeCompare(b.initiated) || a.uploadId.localeCompare(b.uploadId)));
  }

  sortedParts(upload: UploadRecord): PartRecord[] {
    return Object.values(upload.parts).sort((a, b) => a.partNumber - b.partNumber);
  }

  async create(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    const upload: UploadRecord = { bucket, key, uploadId, initiated: new Date().toISOString(), parts: {} };
    this.uploads.set(uploadId, upload);
    await this.save();
    return upload;
  }

  async putPart(uploadId: string, part: PartRecord): Promise<void> {
    const upload = this.uploads.get(uploadId);
    // Aborted or completed while the part was in flight: S3 drops such a part too.
    if (!upload) return;
    upload.parts[String(part.partNumber)] = part;
    await this.save();
  }

  async remove(uploadId: string): Promise<void> {
    if (this.uploads.delete(uploadId)) await this.save();
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    await this.saving;
  }

  /** Writes are serialised; a burst of changes collapses into one more write of the latest state. */
  private save(): Promise<void> {
    if (this.dirty) return this.saving;
    this.dirty = true;
    // A failed write must not wedge the queue: the next change writes the whole state again.
    this.saving = this.saving.catch(() => undefined).then(async () => {
      this.dirty = false;
      const state: StateFile = { version: 1, uploads: [...this.uploads.values()] };
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, JSON.stringify(state, null, 1));
      await rename(tmp, this.file);
    });
    return this.saving;
  }
}
