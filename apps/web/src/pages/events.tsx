import { useEffect, useState } from 'react';
import type { LoggedEvent } from '../api/api-types.js';
import { ErrorMessage } from '../components/widgets.js';
import { useLiveEvents, useLiveState } from '../live/live-events.js';
import { useSession } from '../session/session.js';

const KEEP = 500;

/** The audit log: the latest events, filtered by stream and type, with new ones added live at the top. */
export function EventsPage() {
  const { api } = useSession();
  const live = useLiveState();
  const [events, setEvents] = useState<LoggedEvent[]>([]);
  const [stream, setStream] = useState('');
  const [type, setType] = useState('');
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      try {
        const recent = stream ? (await api.call('system_list_events', { stream, from: 0, limit: 1000 })).events : await latestEvents(api);
        if (!cancelled) setEvents(recent.slice(-KEEP).reverse());
      } catch (e) {
        if (!cancelled) setError(e);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [api, stream]);
  useLiveEvents(
    () => !paused,
    (e) => setEvents((all) => (all.some((x) => x.id === e.id) ? all : [e, ...all].slice(0, KEEP))),
  );
  const shown = events.filter((e) => (!stream || e.stream === stream) && (!type || e.type.toLowerCase().includes(type.toLowerCase())));
  return (
    <section aria-labelledby="events-heading">
      <header className="page-header">
        <h1 id="events-heading">Events</h1>
        <span className={`live live-${live}`} role="status">
          live tail: {paused ? 'paused' : live}
        </span>
      </header>
      <div className="toolbar">
        <label htmlFor="event-stream">Stream</label>
        <input id="event-stream" value={stream} onChange={(e) => setStream(e.target.value.trim())} placeholder="e.g. module-version-…" />
        <label htmlFor="event-type">Type</label>
        <input id="event-type" value={type} onChange={(e) => setType(e.target.value)} placeholder="e.g. Promoted" />
        <button type="button" className="secondary" onClick={() => setPaused(!paused)}>
          {paused ? 'Resume live tail' : 'Pause live tail'}
        </button>
      </div>
      <ErrorMessage error={error} />
      <table aria-label="Event log">
        <thead>
          <tr>
            <th scope="col">Position</th>
            <th scope="col">Time</th>
            <th scope="col">Type</th>
            <th scope="col">Stream</th>
            <th scope="col">Actor</th>
            <th scope="col">Data</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.id} data-position={e.position}>
              <td>{e.position}</td>
              <td>
                <time dateTime={e.occurred_at}>{e.occurred_at.replace('T', ' ').slice(0, 19)}</time>
              </td>
              <td>{e.type}</td>
              <td>
                <button type="button" className="link" onClick={() => setStream(e.stream)} aria-label={`Filter by stream ${e.stream}`}>
                  {e.stream}
                </button>
              </td>
              <td>{e.actor}</td>
              <td>
                <code className="event-data">{e.data_withheld ? '(withheld)' : JSON.stringify(e.data).slice(0, 300)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The last events of the global log: the head from a first small read, then the events before it. */
async function latestEvents(api: ReturnType<typeof useSession>['api']): Promise<LoggedEvent[]> {
  const { head } = await api.call('system_list_events', { from: 0, limit: 1 });
  return (await api.call('system_list_events', { from: Math.max(0, head - KEEP), limit: KEEP })).events;
}
