import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient, ApiError } from './api/api-client.js';
import type { Whoami } from './api/api-types.js';
import { LiveEventsProvider, useLiveState } from './live/live-events.js';
import { EventsPage } from './pages/events.js';
import { InstanceDetail } from './pages/instance-detail.js';
import { ModuleDetail } from './pages/module-detail.js';
import { ModuleNew } from './pages/module-new.js';
import { ModulesList } from './pages/modules-list.js';
import { NodesPage } from './pages/nodes.js';
import { SignIn } from './pages/sign-in.js';
import { TemplateDetail, TemplatesList } from './pages/templates.js';
import { Link, navigate, Router, usePath } from './router.js';
import { SessionProvider, TOKEN_KEY, useSession, type Session } from './session/session.js';

export function App() {
  return (
    <Router>
      <Authenticated />
    </Router>
  );
}

/** Holds the token (sessionStorage) and the caller's identity; any 401 returns here, to sign-in. */
function Authenticated() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [me, setMe] = useState<Whoami | null>(null);
  const [notice, setNotice] = useState<string>();
  const signOut = useCallback((why?: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setMe(null);
    setNotice(why);
  }, []);
  const expired = useCallback(() => signOut('Your token was refused (expired, revoked or wrong): sign in again.'), [signOut]);
  const api = useMemo(() => new ApiClient(() => token, expired), [token, expired]);
  useEffect(() => {
    if (!token || me) return;
    api.call('system_whoami', {}).then(setMe, () => undefined);
  }, [api, token, me]);
  const signIn = async (candidate: string): Promise<void> => {
    const probe = new ApiClient(
      () => candidate,
      () => undefined,
    );
    try {
      const who = await probe.call('system_whoami', {});
      sessionStorage.setItem(TOKEN_KEY, candidate);
      setNotice(undefined);
      setToken(candidate);
      setMe(who);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) throw new Error('That token was refused: check it and try again.');
      throw e;
    }
  };
  if (!token) return <SignIn onToken={signIn} notice={notice} />;
  if (!me) return <p aria-busy="true">Signing in…</p>;
  const session: Session = { token, me, api, signOut: () => signOut() };
  return (
    <SessionProvider session={session}>
      <LiveEventsProvider token={token} onUnauthorized={expired}>
        <Shell />
      </LiveEventsProvider>
    </SessionProvider>
  );
}

function Shell() {
  const { me, signOut } = useSession();
  const live = useLiveState();
  const path = usePath();
  const nav = [
    { to: '/system/modules', label: 'Modules' },
    { to: '/system/templates', label: 'Templates' },
    { to: '/system/nodes', label: 'Nodes' },
    ...(me.permissions.includes('admin') ? [{ to: '/system/events', label: 'Events' }] : []),
  ];
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Powernode</span>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={path.startsWith(n.to) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className={`live live-${live}`} title="Live updates from the event log" data-testid="live-state">
          {live === 'live' ? '● live' : live}
        </span>
        <span className="who">
          {me.name} ({me.role})
        </span>
        <button type="button" className="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main">
        <Page path={path} />
      </main>
    </>
  );
}

function Page(props: { path: string }) {
  const p = props.path;
  const one = (prefix: string): string | null =>
    p.startsWith(prefix) && p.length > prefix.length ? decodeURIComponent(p.slice(prefix.length).split('/')[0] ?? '') : null;
  useEffect(() => {
    if (p === '/' || p === '/system' || p === '/system/') navigate('/system/modules', true);
  }, [p]);
  if (p === '/system/modules' || p === '/system/modules/') return <ModulesList />;
  if (p === '/system/modules/new') return <ModuleNew />;
  const moduleName = one('/system/modules/');
  if (moduleName) return <ModuleDetail key={moduleName} name={moduleName} />;
  if (p === '/system/templates' || p === '/system/templates/') return <TemplatesList />;
  const templateId = one('/system/templates/');
  if (templateId) return <TemplateDetail key={templateId} id={templateId} />;
  if (p === '/system/nodes' || p === '/system/instances' || p === '/system/nodes/') return <NodesPage />;
  const instanceId = one('/system/instances/');
  if (instanceId) return <InstanceDetail key={instanceId} id={instanceId} />;
  if (p === '/system/events') return <EventsPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page at {p}. <Link to="/system/modules">Modules</Link>
      </p>
    </section>
  );
}
