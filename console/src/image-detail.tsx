import { useEffect, useId, useRef, useState } from 'react';
import { BASE_ATTRIBUTES, FAILURE_KEY } from '../../shared/domain/image.js';
import type { ImagesApi, ImageView } from './api.js';
import { formatBytes, text } from './format.js';
import { hrefOf, navigate, onLinkClick } from './router.js';

/** The detail page's overview, in Horizon's order; sizes also in bytes. */
const OVERVIEW: ReadonlyArray<{ key: keyof ImageView & string; label: string; bytes?: boolean }> = [
  { key: 'id', label: 'ID' },
  { key: 'name', label: 'Name' },
  { key: 'status', label: 'Status' },
  { key: 'visibility', label: 'Visibility' },
  { key: 'protected', label: 'Protected' },
  { key: 'os_hidden', label: 'Hidden' },
  { key: 'owner', label: 'Owner' },
  { key: 'disk_format', label: 'Disk format' },
  { key: 'container_format', label: 'Container format' },
  { key: 'size', label: 'Size', bytes: true },
  { key: 'virtual_size', label: 'Virtual size', bytes: true },
  { key: 'min_disk', label: 'Min. disk (GB)' },
  { key: 'min_ram', label: 'Min. RAM (MB)' },
  { key: 'checksum', label: 'Checksum (MD5)' },
  { key: 'os_hash_algo', label: 'Hash algorithm' },
  { key: 'os_hash_value', label: 'Hash value (SHA-512)' },
  { key: 'created_at', label: 'Created' },
  { key: 'updated_at', label: 'Updated' },
];
const BASE = new Set<string>(BASE_ATTRIBUTES);

export function ImageDetail({ api, id }: { api: ImagesApi; id: string }) {
  const ids = useId();
  const [image, setImage] = useState<ImageView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);
  const confirm = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    let current = true;
    api.showImage(id).then(
      (shown) => current && setImage(shown),
      (e: Error) => current && setError(e.message),
    );
    return () => {
      current = false;
    };
  }, [api, id]);

  const back = (
    <p>
      <a href={hrefOf({ page: 'images' })} onClick={onLinkClick({ page: 'images' })}>
        ← All images
      </a>
    </p>
  );
  if (error)
    return (
      <section>
        {back}
        <h1>Image {id}</h1>
        <p role="alert" className="error">
          {error}
        </p>
      </section>
    );
  if (!image)
    return (
      <section>
        {back}
        <p role="status">Loading image…</p>
      </section>
    );
  // Every custom property, sorted by key (the failure reason is shown above them as well).
  const properties = Object.keys(image)
    .filter((key) => !BASE.has(key))
    .sort();
  const failure = image[FAILURE_KEY];
  const act = async (action: 'deactivate' | 'reactivate') => {
    setDeleteError(null);
    try {
      await api.imageAction(image.id, action);
      setImage(await api.showImage(image.id));
    } catch (e) {
      setDeleteError((e as Error).message);
    }
  };
  const remove = async () => {
    setDeleting(true);
    setDeleteError(null);
    try {
      await api.deleteImage(image.id);
      confirm.current?.close();
      navigate({ page: 'images' });
    } catch (e) {
      setDeleteError((e as Error).message);
      confirm.current?.close();
    } finally {
      setDeleting(false);
    }
  };
  return (
    <section aria-labelledby={`${ids}-title`} className="detail">
      {back}
      <div className="title-row">
        <h1 id={`${ids}-title`}>{image.name || image.id}</h1>
        <div className="pager">
          {image.status === 'active' && (
            <button type="button" onClick={() => act('deactivate')}>
              Deactivate
            </button>
          )}
          {image.status === 'deactivated' && (
            <button type="button" onClick={() => act('reactivate')}>
              Reactivate
            </button>
          )}
          <button type="button" className="danger" onClick={() => confirm.current?.showModal()}>
            Delete image
          </button>
        </div>
      </div>
      {/* A modal dialog: focus moves into it, Escape cancels, the page behind is inert. */}
      <dialog ref={confirm} aria-labelledby={`${ids}-confirm`}>
        <p id={`${ids}-confirm`}>
          Delete the image <strong>{image.name || image.id}</strong>? {image.protected ? 'It is protected: the API will refuse.' : 'This cannot be undone once the restore window has passed.'}
        </p>
        <div className="pager">
          <button type="button" onClick={() => confirm.current?.close()} autoFocus>
            Cancel
          </button>
          <button type="button" className="danger" disabled={deleting} onClick={remove}>
            Delete
          </button>
        </div>
      </dialog>
      {deleteError && (
        <p role="alert" className="error">
          Refused: {deleteError}
        </p>
      )}
      {typeof failure === 'string' && (
        <p role="alert" className="error">
          Last upload refused: {failure}
        </p>
      )}
      <h2>Overview</h2>
      <dl className="overview">
        {OVERVIEW.map(({ key, label, bytes }) => (
          <div key={key}>
            <dt>{label}</dt>
            <dd className={key.startsWith('os_hash_value') || key === 'checksum' ? 'hash' : undefined}>
              {bytes && typeof image[key] === 'number' ? `${formatBytes(image[key] as number)} (${image[key] as number} bytes)` : text(image[key])}
            </dd>
          </div>
        ))}
      </dl>
      <h2>Tags</h2>
      {image.tags.length ? (
        <ul className="tags" aria-label="Tags">
          {image.tags.map((tag) => (
            <li key={tag}>{tag}</li>
          ))}
        </ul>
      ) : (
        <p>No tags.</p>
      )}
      <h2>Properties</h2>
      {properties.length ? (
        <table aria-label="Properties" className="properties">
          <thead>
            <tr>
              <th scope="col">Property</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {properties.map((key) => (
              <tr key={key}>
                <th scope="row">{key}</th>
                <td>{text(image[key])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>No custom properties.</p>
      )}
    </section>
  );
}
