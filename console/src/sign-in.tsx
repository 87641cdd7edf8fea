import { useId, useState, type FormEvent } from 'react';
import { LOCAL_ROLES, signInLocally, type Session } from './session.js';

/** The local runtime's project/role picker (in AWS the stack's identity provider will take its place). */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (session: Session) => void; notice: string | null }) {
  const [project, setProject] = useState('demo');
  const [user, setUser] = useState('');
  const [roles, setRoles] = useState<string[]>(['member']);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signInLocally(project.trim(), roles, user.trim() || undefined));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="sign-in" aria-labelledby={`${ids}-title`}>
      <h1 id={`${ids}-title`}>Sign in to the local Skyglass</h1>
      <p>Pick a project and roles; the local runtime signs a token for them with its dev key.</p>
      {notice && <p role="status">{notice}</p>}
      <form onSubmit={submit}>
        <label htmlFor={`${ids}-project`}>Project</label>
        <input id={`${ids}-project`} name="project" required maxLength={255} value={project} onChange={(e) => setProject(e.target.value)} />
        <label htmlFor={`${ids}-user`}>User (optional)</label>
        <input id={`${ids}-user`} name="user" maxLength={255} value={user} placeholder={`${project || 'project'}-user`} onChange={(e) => setUser(e.target.value)} />
        <fieldset>
          <legend>Roles</legend>
          {LOCAL_ROLES.map((role) => (
            <label key={role} className="check">
              <input
                type="checkbox"
                name="roles"
                value={role}
                checked={roles.includes(role)}
                onChange={(e) => setRoles(e.target.checked ? [...roles, role] : roles.filter((r) => r !== role))}
              />
              {role}
            </label>
          ))}
        </fieldset>
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" disabled={busy || !project.trim() || roles.length === 0}>
          Sign in
        </button>
      </form>
    </section>
  );
}

/** In AWS: the stack's Cognito hosted UI signs in (hosted-sign-in.ts); this page only sends the user there. */
export function HostedSignIn({ onSignIn, notice }: { onSignIn: () => void; notice: string | null }) {
  const ids = useId();
  return (
    <section className="sign-in" aria-labelledby={`${ids}-title`}>
      <h1 id={`${ids}-title`}>Sign in to Skyglass</h1>
      <p>You sign in on the service's sign-in page, then come back here.</p>
      {notice && <p role="status">{notice}</p>}
      <button type="submit" onClick={onSignIn}>
        Sign in
      </button>
    </section>
  );
}
