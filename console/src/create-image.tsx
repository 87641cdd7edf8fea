import { useId, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { CONTAINER_FORMATS, DISK_FORMATS, FAILURE_KEY } from '../../shared/domain/image.js';
import type { ImagesApi, ImageView, NewImage } from './api.js';
import { ImageAttributeFields } from './image-fields.js';
import { formatBytes } from './format.js';
import { hrefOf, onLinkClick } from './router.js';
import { cancelUpload, findOpenUpload, forgetUpload, UploadInterrupted, uploadFile, type OpenUpload, type UploadProgress } from './upload.js';

type Outcome =
  | { kind: 'active' | 'refused' | 'created'; image: ImageView }
  | { kind: 'error'; message: string; image?: ImageView; interrupted?: UploadInterrupted };

/** An unfinished upload the chosen file belongs to, as the API sees it now. */
interface Resumable {
  upload: OpenUpload;
  partsDone: number;
  partCount: number;
}

/** Horizon's Create Image: the record, then the file's bytes through the uploads extension, with progress. */
export function CreateImage({ api, project }: { api: ImagesApi; project: string }) {
  const ids = useId();
  const [name, setName] = useState('');
  const [diskFormat, setDiskFormat] = useState<string>('qcow2');
  const [containerFormat, setContainerFormat] = useState<string>('bare');
  const [visibility, setVisibility] = useState<string>('shared');
  const [protectedImage, setProtected] = useState(false);
  const [minDisk, setMinDisk] = useState('0');
  const [minRam, setMinRam] = useState('0');
  const [file, setFile] = useState<File | null>(null);
  const [dragOver, setDragOver] = useState(false);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  // What a screen reader hears: each phase and every tenth of the bytes, not every progress event.
  const [announcement, setAnnouncement] = useState('');
  const announced = useRef('');
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [resumable, setResumable] = useState<Resumable | null>(null);
  const chosen = useRef<File | null>(null);

  const choose = (next: File | null) => {
    setFile(next);
    setResumable(null);
    chosen.current = next;
    if (!next) return;
    void (async () => {
      const open = await findOpenUpload(project, next);
      if (!open || chosen.current !== next) return;
      try {
        const session = await api.getUpload(open.imageId, open.uploadId);
        if (chosen.current === next) setResumable({ upload: open, partsDone: session.parts_done?.length ?? 0, partCount: session.part_count });
      } catch {
        forgetUpload(open.uploadId); // completed, aborted or expired since
      }
    })();
  };

  const announce = (next: UploadProgress) => {
    const tenth = next.total > 0 ? Math.floor((next.sent / next.total) * 10) * 10 : 100;
    const text = next.phase === 'sending' ? `Uploading: ${tenth}% sent.` : next.phase === 'verifying' ? 'All parts sent; the image is being verified.' : 'Verification finished.';
    if (text !== announced.current) {
      announced.current = text;
      setAnnouncement(text);
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setOutcome(null);
    setProgress(null);
    let image: ImageView | undefined;
    try {
      const body: NewImage = {
        name: name.trim() || file?.name || undefined,
        disk_format: diskFormat,
        container_format: containerFormat,
        visibility: visibility as NewImage['visibility'],
        protected: protectedImage,
        min_disk: Number(minDisk) || 0,
        min_ram: Number(minRam) || 0,
      };
      image = await api.createImage(body);
      if (!file) {
        setOutcome({ kind: 'created', image });
        return;
      }
      await send(image.id, file);
    } catch (error) {
      setOutcome({ kind: 'error', message: (error as Error).message, ...(image ? { image } : {}) });
    } finally {
      setBusy(false);
    }
  };

  /** Sends the file (all of it, or what `resume`'s session lacks) and shows how verification ended. */
  const send = async (imageId: string, data: File, resume?: OpenUpload) => {
    try {
      const settled = await uploadFile(api, imageId, data, {
        project,
        ...(resume ? { resume } : {}),
        onProgress: (next) => {
          setProgress(next);
          announce(next);
        },
      });
      setOutcome({ kind: settled.status === 'active' ? 'active' : 'refused', image: settled });
    } catch (error) {
      setOutcome({ kind: 'error', message: (error as Error).message, ...(error instanceof UploadInterrupted ? { interrupted: error } : {}) });
    }
  };

  const resume = async () => {
    if (!resumable || !file) return;
    setBusy(true);
    setOutcome(null);
    setProgress(null);
    setResumable(null);
    try {
      await send(resumable.upload.imageId, file, resumable.upload);
    } finally {
      setBusy(false);
    }
  };

  const cancel = async (interrupted: UploadInterrupted) => {
    try {
      await cancelUpload(api, interrupted.imageId, interrupted.uploadId);
      setOutcome({ kind: 'error', message: 'The upload was cancelled; the image is queued, without data.' });
    } catch (error) {
      setOutcome({ kind: 'error', message: (error as Error).message });
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragOver(false);
    const dropped = event.dataTransfer.files[0];
    if (dropped) choose(dropped);
  };

  const imageLink = (image: ImageView) => (
    <a href={hrefOf({ page: 'image', id: image.id })} onClick={onLinkClick({ page: 'image', id: image.id })}>
      Open {image.name || image.id}
    </a>
  );

  return (
    <section className="create" aria-labelledby={`${ids}-title`}>
      <p>
        <a href={hrefOf({ page: 'images' })} onClick={onLinkClick({ page: 'images' })}>
          ← All images
        </a>
      </p>
      <h1 id={`${ids}-title`}>Create image</h1>
      <form onSubmit={submit} aria-label="New image">
        <div>
          <label htmlFor={`${ids}-name`}>Name</label>
          <input id={`${ids}-name`} value={name} maxLength={255} placeholder={file?.name ?? ''} onChange={(e) => setName(e.target.value)} />
        </div>
        <div>
          <label htmlFor={`${ids}-disk`}>Disk format</label>
          <select id={`${ids}-disk`} value={diskFormat} onChange={(e) => setDiskFormat(e.target.value)}>
            {DISK_FORMATS.map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${ids}-container`}>Container format</label>
          <select id={`${ids}-container`} value={containerFormat} onChange={(e) => setContainerFormat(e.target.value)}>
            {CONTAINER_FORMATS.map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </div>
        <ImageAttributeFields ids={ids} visibility={[visibility, setVisibility]} minDisk={[minDisk, setMinDisk]} minRam={[minRam, setMinRam]} protectedImage={[protectedImage, setProtected]} />
        <div
          className={`drop${dragOver ? ' over' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragOver(true);
          }}
          onDragLeave={() => setDragOver(false)}
          onDrop={onDrop}
        >
          <label htmlFor={`${ids}-file`}>Image file (or drop one here)</label>
          <input id={`${ids}-file`} type="file" onChange={(e) => choose(e.target.files?.[0] ?? null)} />
          {file && (
            <p>
              {file.name}: {formatBytes(file.size)}
            </p>
          )}
        </div>
        {resumable && (
          <div className="submit resume" role="status">
            <p>
              This file is the one of an unfinished upload: {resumable.partsDone} of {resumable.partCount} parts are stored already.
            </p>
            <button type="button" disabled={busy} onClick={resume}>
              Resume upload
            </button>
          </div>
        )}
        <div className="submit">
          <button type="submit" disabled={busy}>
            {file ? 'Create and upload' : 'Create'}
          </button>
        </div>
      </form>

      {progress && (
        <div className="progress">
          <label htmlFor={`${ids}-progress`}>Upload progress</label>
          <progress id={`${ids}-progress`} max={progress.total || 1} value={progress.total ? progress.sent : 1} />
          <p>
            {formatBytes(progress.sent)} of {formatBytes(progress.total)} sent ({progress.total ? Math.floor((progress.sent / progress.total) * 100) : 100}%) · parts{' '}
            {progress.partsDone}/{progress.partCount}
            {progress.phase === 'sending' && progress.bytesPerSecond > 0 && (
              <>
                {' '}
                · {formatBytes(progress.bytesPerSecond)}/s
                {progress.secondsLeft !== null && ` · about ${Math.ceil(progress.secondsLeft)} s left`}
              </>
            )}
            {progress.phase === 'verifying' && ' · verifying'}
          </p>
        </div>
      )}
      <p role="status" className="status">
        {announcement}
      </p>

      {outcome?.kind === 'active' && (
        <p role="status">
          The image is active. {imageLink(outcome.image)}
        </p>
      )}
      {outcome?.kind === 'created' && (
        <p role="status">
          The image is created, without data ({outcome.image.status}). {imageLink(outcome.image)}
        </p>
      )}
      {outcome?.kind === 'refused' && (
        <div role="alert" className="error">
          <p>
            The upload was refused: {String(outcome.image[FAILURE_KEY] ?? `the image is ${outcome.image.status}`)}
          </p>
          <p>{imageLink(outcome.image)}</p>
        </div>
      )}
      {outcome?.kind === 'error' && (
        <div role="alert" className="error">
          <p>{outcome.message}</p>
          {outcome.interrupted && (
            <p>
              The parts sent are kept: choose the same file again to resume.{' '}
              <button type="button" onClick={() => outcome.interrupted && cancel(outcome.interrupted)}>
                Cancel upload
              </button>
            </p>
          )}
          {outcome.image && <p>{imageLink(outcome.image)}</p>}
        </div>
      )}
    </section>
  );
}
