import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ImagesApi } from './api.js';
import { CreateImage } from './create-image.js';
import { ImageDetail } from './image-detail.js';
import { ImagesPage } from './images-page.js';
import { hrefOf, onLinkClick, useView } from './router.js';
import { loadConfig, loadSession, saveSession, type ConsoleConfig, type Session } from './session.js';
import { SignIn } from './sign-in.js';

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [configError, setConfigError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const view = useView();
  // A new view moves the focus to its content, as a page load would for a screen reader.
  const firstView = useRef(true);
  useEffect(() => {
    if (firstView.current) {
      firstView.current = false;
      return;
    }
    document.getElementById('main')?.focus();
  }, [view]);

  useEffect(() => {
    loadConfig().then(setConfig, (error: Error) => setConfigError(error.message));
  }, []);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setNotice(null);
    setSession(next);
  }, []);
  const signOut = useCallback((reason: string | null) => {
    saveSession(null);
    setNotice(reason);
    setSession(null);
  }, []);
  const api = useMemo(
    () => (session ? new ImagesApi(session.token, () => signOut('Your sign-in is no longer accepted: sign in again.')) : null),
    [session, signOut],
  );

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top-bar">
        <a className="brand" href={hrefOf({ page: 'images' })} onClick={onLinkClick({ page: 'images' })}>
          Skyglass
        </a>
        {session && (
          <div className="who">
            <span>
              Project <strong>{session.project}</strong> · {session.user} · {session.roles.join(', ')}
            </span>
            <button type="button" onClick={() => signOut(null)}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {configError && <p role="alert">{configError}</p>}
        {!session || !api ? (
          config && <SignIn onSignedIn={signIn} notice={notice} />
        ) : view.page === 'image' ? (
          <ImageDetail key={view.id} api={api} id={view.id} project={session.project} />
        ) : view.page === 'create' ? (
          <CreateImage api={api} project={session.project} />
        ) : (
          <ImagesPage api={api} session={session} />
        )}
      </main>
    </>
  );
}
