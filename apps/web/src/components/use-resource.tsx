import { useCallback, useEffect, useRef, useState } from 'react';
import type { LoggedEvent } from '../api/api-types.js';
import { useLiveEvents, useLiveState } from '../live/live-events.js';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/**
 * Loads `load()` now and again whenever a live event `affects` it: the page shows state changed by another tab
 * or the CLI as soon as the event reaches the stream. Reloads that overlap are folded into one.
 */
export function useResource<T>(load: () => Promise<T>, deps: readonly unknown[], affects: (event: LoggedEvent) => boolean = () => false): Resource<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const inFlight = useRef(false);
  const again = useRef(false);
  const generation = useRef(0);
  const loader = useCallback(load, deps);
  const run = useCallback(async () => {
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    const mine = ++generation.current;
    try {
      do {
        again.current = false;
        try {
          const value = await loader();
          if (mine === generation.current) {
            setData(value);
            setError(undefined);
          }
        } catch (e) {
          if (mine === generation.current) setError(e as Error);
        }
      } while (again.current);
    } finally {
      inFlight.current = false;
      if (mine === generation.current) setLoading(false);
    }
  }, [loader]);
  useEffect(() => {
    setLoading(true);
    setData(undefined);
    inFlight.current = false;
    void run();
  }, [run]);
  useLiveEvents(affects, () => void run());
  // An event appended after the first load but before the stream was connected would be missed: once the
  // stream is live (at first, and after a reconnect), read again.
  const live = useLiveState();
  const wasLive = useRef(live === 'live');
  useEffect(() => {
    if (live === 'live' && !wasLive.current) void run();
    wasLive.current = live === 'live';
  }, [live, run]);
  return { data, error, loading, reload: () => void run() };
}
