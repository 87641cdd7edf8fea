import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import type { ImageMember, ImagesApi, ImageView, MemberStatus } from './api.js';

/**
 * Sharing, as Glance's members API has it: the owner lists, adds and removes the projects a
 * shared image is shared with; a project it is shared with accepts or rejects it (only the member
 * sets its own status).
 */
export function ImageMembers({ api, image, project }: { api: ImagesApi; image: ImageView; project: string }) {
  const ids = useId();
  const owner = image.owner === project;
  const [members, setMembers] = useState<ImageMember[] | null>(null);
  const [mine, setMine] = useState<ImageMember | null>(null);
  const [newMember, setNewMember] = useState('');
  const [refusal, setRefusal] = useState<string | null>(null);

  const shared = image.visibility === 'shared';
  const load = useCallback(async () => {
    // Only shared images have members (Glance answers 403 for the others).
    if (!shared) return;
    if (owner) setMembers((await api.listMembers(image.id)).members);
    else setMine(await api.showMember(image.id, project).catch(() => null));
  }, [api, image.id, owner, project, shared]);
  useEffect(() => {
    load().catch((e: Error) => setRefusal(e.message));
  }, [load]);

  const change = async (work: () => Promise<unknown>) => {
    setRefusal(null);
    try {
      await work();
      await load();
      return true;
    } catch (e) {
      setRefusal((e as Error).message);
      return false;
    }
  };
  const add = async (event: FormEvent) => {
    event.preventDefault();
    if (newMember.trim() && (await change(() => api.addMember(image.id, newMember.trim())))) setNewMember('');
  };
  const answer = (status: MemberStatus) => change(() => api.setMemberStatus(image.id, project, status));

  if (!shared) return null;
  return (
    <section aria-labelledby={`${ids}-title`}>
      <h2 id={`${ids}-title`}>Sharing</h2>
      {refusal && (
        <p role="alert" className="error">
          Refused: {refusal}
        </p>
      )}
      {owner ? (
        <>
          {members?.length ? (
            <table aria-label="Members" className="properties">
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {members.map((m) => (
                  <tr key={m.member_id}>
                    <th scope="row">{m.member_id}</th>
                    <td>{m.status}</td>
                    <td>
                      <button type="button" aria-label={`Stop sharing with ${m.member_id}`} onClick={() => change(() => api.removeMember(image.id, m.member_id))}>
                        Stop sharing
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p>Not shared with any project.</p>
          )}
          <form className="inline-form" onSubmit={add} aria-label="Share with a project">
            <label htmlFor={`${ids}-member`}>Share with project</label>
            <input id={`${ids}-member`} value={newMember} maxLength={255} onChange={(e) => setNewMember(e.target.value)} />
            <button type="submit">Share</button>
          </form>
        </>
      ) : mine ? (
        <div className="inline-form">
          <p>
            Shared with your project: <strong>{mine.status}</strong>.
          </p>
          {mine.status !== 'accepted' && (
            <button type="button" onClick={() => answer('accepted')}>
              Accept
            </button>
          )}
          {mine.status !== 'rejected' && (
            <button type="button" onClick={() => answer('rejected')}>
              Reject
            </button>
          )}
        </div>
      ) : null}
    </section>
  );
}
