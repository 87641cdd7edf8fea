import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { BASE_ATTRIBUTES, FAILURE_KEY } from '../../shared/domain/image.js';
import { pointer, type ImagesApi, type ImageView } from './api.js';
import { formatBytes, text } from './format.js';
import { EditImage } from './edit-image.js';
import { ImageMembers } from './image-members.js';
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

export function ImageDetail({ api, id, project }: { api: ImagesApi; id: string; project: string }) {
  const ids = useId();
  const [image, setImage] = useState<ImageView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);
  const confirm = useRef<HTMLDialogElement>(null);
  const [editing, setEditing] = useState(false);
  const [newTag, setNewTag] = useState('');
  const [propertyKey, setPropertyKey] = useState('');
  const [propertyValue, setPropertyValue] = useState('');

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
  /** Runs a change, then shows the image as the API now has it (or the refusal). */
  const change = async (work: () => Promise<unknown>) => {
    setRefusal(null);
    try {
      await work();
      setImage(await api.showImage(image.id));
      return true;
    } catch (e) {
      setRefusal((e as Error).message);
      return false;
    }
  };
  const addTag = async (event: FormEvent) => {
    event.preventDefault();
    if (newTag.trim() && (await change(() => api.addTag(image.id, newTag.trim())))) setNewTag('');
  };
  const setProperty = async (event: FormEvent) => {
    event.preventDefault();
    const key = propertyKey.trim();
    // JSON patch add sets the member whether or not it exists.
    if (key && (await change(() => api.updateImage(image.id, [{ op: 'add', path: pointer(key), value: propertyValue }])))) {
      setPropertyKey('');
      setPropertyValue('');
    }
  };
  const act = async (action: 'deactivate' | 'reactivate') => {
    setRefusal(null);
    try {
      await api.imageAction(image.id, action);
      setImage(await api.showImage(image.id));
    } catch (e) {
      setRefusal((e as Error).message);
    }
  };
  const remove = async () => {
    setDeleting(true);
    setRefusal(null);
    try {
      await api.deleteImage(image.id);
      confirm.current?.close();
      navigate({ page: 'images' });
    } catch (e) {
      setRefusal((e as Error).message);
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
          <button type="button" aria-expanded={editing} onClick={() => setEditing(!editing)}>
            Edit image
          </button>
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
      {refusal && (
        <p role="alert" className="error">
          Refused: {refusal}
        </p>
      )}
      {typeof failure === 'string' && (
        <p role="alert" className="error">
          Last upload refused: {failure}
        </p>
      )}
      {editing && (
        <EditImage
          image={image}
          onCancel={() => setEditing(false)}
          onSave={async (operations) => {
            if (operations.length === 0 || (await change(() => api.updateImage(image.id, operations)))) setEditing(false);
          }}
        />
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
            <li key={tag}>
              <span>{tag}</span>{' '}
              <button type="button" className="remove" aria-label={`Remove tag ${tag}`} onClick={() => change(() => api.removeTag(image.id, tag))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p>No tags.</p>
      )}
      <form className="inline-form" onSubmit={addTag} aria-label="Add a tag">
        <label htmlFor={`${ids}-tag`}>New tag</label>
        <input id={`${ids}-tag`} value={newTag} maxLength={255} onChange={(e) => setNewTag(e.target.value)} />
        <button type="submit">Add tag</button>
      </form>
      <h2>Properties</h2>
      {properties.length ? (
        <table aria-label="Properties" className="properties">
          <thead>
            <tr>
              <th scope="col">Property</th>
              <th scope="col">Value</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {properties.map((key) => (
              <tr key={key}>
                <th scope="row">{key}</th>
                <td>{text(image[key])}</td>
                <td>
                  <button type="button" aria-label={`Remove property ${key}`} onClick={() => change(() => api.updateImage(image.id, [{ op: 'remove', path: pointer(key) }]))}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>No custom properties.</p>
      )}
      <form className="inline-form" onSubmit={setProperty} aria-label="Set a property">
        <label htmlFor={`${ids}-property-key`}>Property</label>
        <input id={`${ids}-property-key`} value={propertyKey} maxLength={255} onChange={(e) => setPropertyKey(e.target.value)} />
        <label htmlFor={`${ids}-property-value`}>Value</label>
        <input id={`${ids}-property-value`} value={propertyValue} onChange={(e) => setPropertyValue(e.target.value)} />
        <button type="submit">Set property</button>
      </form>
      <ImageMembers key={image.updated_at} api={api} image={image} project={project} />
    </section>
  );
}
