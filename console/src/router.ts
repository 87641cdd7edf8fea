import { useEffect, useState, type MouseEvent } from 'react';

/** The console's base path: the runtime answers index.html for every path under it. */
export const BASE = '/console/';

export type View = { page: 'images' } | { page: 'image'; id: string } | { page: 'create' };

export function viewOf(pathname: string): View {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : '';
  const image = /^images\/([^/]+)$/.exec(rest);
  if (image) return { page: 'image', id: decodeURIComponent(image[1] as string) };
  if (rest === 'create') return { page: 'create' };
  return { page: 'images' };
}

export function hrefOf(view: View): string {
  if (view.page === 'image') return `${BASE}images/${encodeURIComponent(view.id)}`;
  return view.page === 'create' ? `${BASE}create` : BASE;
}

const listeners = new Set<() => void>();

export function navigate(view: View): void {
  window.history.pushState(null, '', hrefOf(view));
  listeners.forEach((listener) => listener());
}

/** The view the address bar shows, following pushState and the back/forward buttons. */
export function useView(): View {
  const [view, setView] = useState(() => viewOf(window.location.pathname));
  useEffect(() => {
    const update = () => setView(viewOf(window.location.pathname));
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return view;
}

/** A link to a view that navigates in place (and still opens in a new tab with a modifier or middle click). */
export function onLinkClick(view: View) {
  return (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(view);
  };
}
