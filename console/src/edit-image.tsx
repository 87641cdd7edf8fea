import { useId, useState, type FormEvent } from 'react';
import { ImageAttributeFields } from './image-fields.js';
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
      <ImageAttributeFields ids={ids} visibility={[visibility, setVisibility]} minDisk={[minDisk, setMinDisk]} minRam={[minRam, setMinRam]} protectedImage={[protectedImage, setProtected]} />
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
