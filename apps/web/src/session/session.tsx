import { createContext, useContext, type ReactNode } from 'react';
import type { ApiClient } from '../api/api-client.js';
import type { Whoami } from '../api/api-types.js';
import type { Permission } from '../domain/promotion-actions.js';

/** sessionStorage: the token lives as long as the tab, and is not shared with other tabs or sent anywhere by itself. */
export const TOKEN_KEY = 'powernode.token';

export interface Session {
  token: string;
  me: Whoami;
  api: ApiClient;
  signOut(): void;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider(props: { session: Session; children: ReactNode }) {
  return <SessionContext.Provider value={props.session}>{props.children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

/** Whether the signed-in role carries the permission: what it may not do is not offered. */
export function useCan(permission: Permission): boolean {
  return useSession().me.permissions.includes(permission);
}
