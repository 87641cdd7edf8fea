import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ImagesApi } from './api.js';
import { CreateImage } from './create-image.js';
import { ImageDetail } from './image-detail.js';
import { ImagesPage } from './images-page.js';
import { hrefOf, onLinkClick, useView } from './router.js';
import { beginHostedSignIn, completeHostedSignIn, logoutUrl, type SignInPage } from './hosted-sign-in.js';
import { loadConfig, loadSession, saveSession, type ConsoleConfig, type Session } from './session.js';
import { HostedSignIn, SignIn } from './sign-in.js';

/** This tab, as the hosted sign-in sees it. */
const browserSignInPage = (): SignInPage => ({
  search: window.location.search,
  pathname: window.location.pathname,
  storage: window.sessionStorage,
  replaceUrl: (url) => window.history.replaceState(null, '', url),
  go: (url) => window.location.assign(url),
});

export function App() {
  // Locally the tab's sessionStorage keeps the sign-in across reloads; in AWS it is kept in memory only.
  const [session, setSession] = useState<Session | null>(null);
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
    loadConfig().then(
      async (loaded) => {
        if (loaded.signIn === 'local') setSession(loadSession());
        else {
          // Back from the hosted UI with a code: trade it (PKCE) for the tokens, kept in memory.
          const returned = await completeHostedSignIn(loaded, browserSignInPage()).catch((error: Error) => {
            setNotice(error.message);
            return null;
          });
          if (returned) setSession(returned);
        }
        setConfig(loaded);
      },
      (error: Error) => setConfigError(error.message),
    );
  }, []);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setNotice(null);
    setSession(next);
  }, []);
  const signOut = useCallback(
    (reason: string | null) => {
      saveSession(null);
      setNotice(reason);
      setSession(null);
      // Signing out on purpose also ends the hosted UI's own session.
      if (config && config.signIn === 'cognito' && reason === null) window.location.assign(logoutUrl(config));
    },
    [config],
  );
  const api = useMemo(
    () =>
      session && config
        ? new ImagesApi(session.token, () => signOut('Your sign-in is no longer accepted: sign in again.'), config.signIn === 'cognito' ? config.apiUrl : '')
        : null,
    [session, config, signOut],
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
          config &&
          (config.signIn === 'local' ? (
            <SignIn onSignedIn={signIn} notice={notice} />
          ) : (
            <HostedSignIn notice={notice} onSignIn={() => beginHostedSignIn(config, browserSignInPage()).catch((error: Error) => setNotice(error.message))} />
          ))
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
