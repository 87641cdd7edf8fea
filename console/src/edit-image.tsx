import { useId, useState, type FormEvent } from 'react';
import { VISIBILITIES } from '../../shared/domain/image.js';
import type { ImageView, PatchOperation } from './api.js';

/** Horizon's Edit Image for the base attributes a user may change; only what changed is patched. */
export function EditImage({ image, onSave, onCancel }: { image: ImageView; onSave: (operations: PatchOperation[]) => Promise<void>; onCancel: () => void }) {
  const ids = useId();
  const [name, setName] = useState(image.name ?? '');
  const [visibility, setVisibility] = useState<string>(image.visibility);
  const [protectedImage, setProtected] = useState(image.protected);
  const [minDisk, setMinDisk] = useState(String(image.min_disk));
  const [minRam, setMinRam] = useState(String(image.min_ram));
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const wanted: Record<string, unknown> = { name, visibility, protected: protectedImage, min_disk: Number(minDisk) || 0, min_ram: Number(minRam) || 0 };
    const operations: PatchOperation[] = Object.entries(wanted)
      .filter(([key, value]) => image[key] !== value)
      .map(([key, value]) => ({ op: 'replace', path: `/${key}`, value }));
    setBusy(true);
    try {
      await onSave(operations);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="create edit" onSubmit={submit} aria-label="Edit image">
      <div>
        <label htmlFor={`${ids}-name`}>Name</label>
        <input id={`${ids}-name`} value={name} maxLength={255} onChange={(e) => setName(e.target.value)} />
      </div>
      <div>
        <label htmlFor={`${ids}-visibility`}>Visibility</label>
        <select id={`${ids}-visibility`} value={visibility} onChange={(e) => setVisibility(e.target.value)}>
          {VISIBILITIES.map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor={`${ids}-min-disk`}>Minimum disk (GB)</label>
        <input id={`${ids}-min-disk`} type="number" min={0} step={1} value={minDisk} onChange={(e) => setMinDisk(e.target.value)} />
      </div>
      <div>
        <label htmlFor={`${ids}-min-ram`}>Minimum RAM (MB)</label>
        <input id={`${ids}-min-ram`} type="number" min={0} step={1} value={minRam} onChange={(e) => setMinRam(e.target.value)} />
      </div>
      <div>
        <label className="check">
          <input type="checkbox" checked={protectedImage} onChange={(e) => setProtected(e.target.checked)} />
          Protected
        </label>
      </div>
      <div className="inline-form">
        <button type="submit" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
