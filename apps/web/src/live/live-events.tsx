import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { API_BASE } from '../api/api-client.js';
import type { LoggedEvent } from '../api/api-types.js';
import { openEventStream, type StreamState } from './event-stream.js';

type Listener = (event: LoggedEvent) => void;

interface LiveEvents {
  state: StreamState;
  subscribe(listener: Listener): () => void;
}

const LiveEventsContext = createContext<LiveEvents>({ state: 'closed', subscribe: () => () => undefined });

/** One event stream for the whole signed-in app; pages subscribe to it. */
export function LiveEventsProvider(props: { token: string; onUnauthorized: () => void; children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const [state, setState] = useState<StreamState>('connecting');
  const { token, onUnauthorized } = props;
  useEffect(() => {
    return openEventStream({
      url: `${API_BASE}/events/stream`,
      token: () => token,
      onEvent: (event) => {
        for (const listener of [...listeners.current]) listener(event);
      },
      onState: setState,
      onUnauthorized,
    });
  }, [token, onUnauthorized]);
  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => void listeners.current.delete(listener);
  }, []);
  const value = useMemo(() => ({ state, subscribe }), [state, subscribe]);
  return <LiveEventsContext.Provider value={value}>{props.children}</LiveEventsContext.Provider>;
}

export function useLiveState(): StreamState {
  return useContext(LiveEventsContext).state;
}

/** Calls `onEvent` for every live event that `match` accepts, for as long as the component is mounted. */
export function useLiveEvents(match: (event: LoggedEvent) => boolean, onEvent: (event: LoggedEvent) => void): void {
  const { subscribe } = useContext(LiveEventsContext);
  const latest = useRef({ match, onEvent });
  latest.current = { match, onEvent };
  useEffect(
    () =>
      subscribe((event) => {
        if (latest.current.match(event)) latest.current.onEvent(event);
      }),
    [subscribe],
  );
}
