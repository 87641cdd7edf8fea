import type { Dispatch, SetStateAction } from 'react';
import { VISIBILITIES } from '../../shared/domain/image.js';

type State<T> = [T, Dispatch<SetStateAction<T>>];

/**
 * The fields create and edit share: visibility, minimum disk and RAM, protected (each a labelled
 * control, ids under `ids`). Values as the inputs hold them; the forms turn them into the API's.
 */
export function ImageAttributeFields({ ids, visibility, minDisk, minRam, protectedImage }: { ids: string; visibility: State<string>; minDisk: State<string>; minRam: State<string>; protectedImage: State<boolean> }) {
  return (
    <>
      <div>
        <label htmlFor={`${ids}-visibility`}>Visibility</label>
        <select id={`${ids}-visibility`} value={visibility[0]} onChange={(e) => visibility[1](e.target.value)}>
          {VISIBILITIES.map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor={`${ids}-min-disk`}>Minimum disk (GB)</label>
        <input id={`${ids}-min-disk`} type="number" min={0} step={1} value={minDisk[0]} onChange={(e) => minDisk[1](e.target.value)} />
      </div>
      <div>
        <label htmlFor={`${ids}-min-ram`}>Minimum RAM (MB)</label>
        <input id={`${ids}-min-ram`} type="number" min={0} step={1} value={minRam[0]} onChange={(e) => minRam[1](e.target.value)} />
      </div>
      <div>
        <label className="check">
          <input type="checkbox" checked={protectedImage[0]} onChange={(e) => protectedImage[1](e.target.checked)} />
          Protected
        </label>
      </div>
    </>
  );
}
