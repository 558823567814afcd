import { createContext, useContext, useEffect, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

/** The app's paths all live under /app: the gateway answers index.html for each of them. */
export const APP_BASE = '/app';

const PathContext = createContext<string>('/');

/** Navigates within the app without a page load. */
export function navigate(to: string, replace = false): void {
  const url = `${APP_BASE}${to}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

function currentPath(): string {
  const p = location.pathname.startsWith(APP_BASE) ? location.pathname.slice(APP_BASE.length) : location.pathname;
  return p === '' ? '/' : p;
}

export function Router(props: { children: ReactNode }) {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const update = (): void => setPath(currentPath());
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return <PathContext.Provider value={path}>{props.children}</PathContext.Provider>;
}

export function usePath(): string {
  return useContext(PathContext);
}

/** A link inside the app: a real <a href> (open in new tab works), navigated in place on a plain click. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const { to, ...rest } = props;
  const onClick = (e: MouseEvent<HTMLAnchorElement>): void => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a {...rest} href={`${APP_BASE}${to}`} onClick={onClick} />;
}
