import { useState } from 'react';
import type { LoggedEvent } from '../api/api-types.js';
import { useResource } from '../components/use-resource.js';
import { Digest, ErrorMessage, RelativeTime, StateBadge } from '../components/widgets.js';
import { useLiveEvents } from '../live/live-events.js';
import { useCan, useSession } from '../session/session.js';

/** The instance's status changes as the events report them: provisioning → starting → running. */
function useStatusTrail(id: string): { to: string; at: string; reason?: string }[] {
  const [trail, setTrail] = useState<{ to: string; at: string; reason?: string }[]>([]);
  useLiveEvents(
    (e) => e.stream === `instance-${id}` && (e.type === 'InstanceStatusChanged' || e.type === 'InstanceTerminated'),
    (e: LoggedEvent) =>
      setTrail((t) => [
        ...t,
        { to: e.type === 'InstanceTerminated' ? 'terminated' : String(e.data?.to), at: e.occurred_at, reason: e.data?.reason ?? undefined },
      ]),
  );
  return trail;
}

export function InstanceDetail(props: { id: string }) {
  const { api } = useSession();
  const canChange = useCan('change');
  const mine = (e: LoggedEvent) => e.stream === `instance-${props.id}` || e.type.startsWith('ModuleVersion') || e.type.includes('Template');
  const instance = useResource(() => api.call('system_get_instance', { id: props.id }), [api, props.id], mine);
  const drift = useResource(() => api.call('system_drift_report', { instance_id: props.id }), [api, props.id], mine);
  const trail = useStatusTrail(props.id);
  const [error, setError] = useState<unknown>();
  const [confirming, setConfirming] = useState(false);
  if (instance.error) return <ErrorMessage error={instance.error} />;
  const i = instance.data?.instance;
  if (!i) return <p aria-busy="true">Loading…</p>;
  const terminate = async (): Promise<void> => {
    setError(undefined);
    try {
      await api.call('system_terminate_instance', { id: i.id });
      setConfirming(false);
      instance.reload();
    } catch (e) {
      setError(e);
    }
  };
  const d = drift.data;
  const driftRows = d
    ? [
        ...Object.entries(d.missing).map(([module, want]) => ({ module, kind: 'missing', want, have: null as string | null })),
        ...Object.entries(d.extra).map(([module, have]) => ({ module, kind: 'extra', want: null as string | null, have })),
        ...Object.entries(d.mismatched).map(([module, m]) => ({ module, kind: 'mismatched', want: m.want as string | null, have: m.have as string | null })),
      ]
    : [];
  return (
    <section aria-labelledby="instance-heading">
      <header className="page-header">
        <h1 id="instance-heading">Instance {i.id.slice(0, 8)}</h1>
        <span data-testid="instance-status">
          <StateBadge state={i.status} />
        </span>
      </header>
      <dl className="facts">
        <dt>Node</dt>
        <dd>{String(i['hostname'] ?? i.node_id)}</dd>
        <dt>Driver</dt>
        <dd>{String(i['driver'] ?? '')}</dd>
        <dt>Provisioner host</dt>
        <dd>{String(i['provisioner_host'] ?? 'any')}</dd>
        <dt>Last heartbeat</dt>
        <dd>
          <RelativeTime iso={i.last_heartbeat_at} />
          {i.heartbeat_stale ? <span className="warning"> (stale)</span> : null}
        </dd>
        <dt>Status reason</dt>
        <dd>{String(i['status_reason'] ?? '—')}</dd>
      </dl>
      {trail.length > 0 ? (
        <section aria-labelledby="progress-heading" className="progress">
          <h2 id="progress-heading">Progress</h2>
          <ol aria-live="polite">
            {trail.map((t, n) => (
              <li key={n}>
                <StateBadge state={t.to} /> <RelativeTime iso={t.at} /> {t.reason ?? ''}
              </li>
            ))}
          </ol>
        </section>
      ) : null}
      {canChange && i.status !== 'terminated' ? (
        confirming ? (
          <p className="confirm">
            Terminate this instance? Its sandbox and private state are destroyed.{' '}
            <button type="button" className="danger" onClick={() => void terminate()}>
              Terminate instance
            </button>{' '}
            <button type="button" className="secondary" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </p>
        ) : (
          <button type="button" className="danger" onClick={() => setConfirming(true)}>
            Terminate…
          </button>
        )
      ) : null}
      <ErrorMessage error={error} />
      <h2>Running modules</h2>
      <table aria-label="Running module digests">
        <thead>
          <tr>
            <th scope="col">Module</th>
            <th scope="col">composefs digest</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(i.running_module_digests).map(([module, digest]) => (
            <tr key={module}>
              <td>{module}</td>
              <td>
                <Digest value={digest} what={`running digest of ${module}`} />
              </td>
            </tr>
          ))}
          {Object.keys(i.running_module_digests).length === 0 ? (
            <tr>
              <td colSpan={2} className="muted">
                Nothing reported running yet.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {i.services && i.services.length > 0 ? (
        <>
          <h2>Services</h2>
          <table aria-label="Services">
            <thead>
              <tr>
                <th scope="col">Unit</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {i.services.map((s, n) => (
                <tr key={n}>
                  <td>{String(s.unit ?? s.module ?? '')}</td>
                  <td>{[s.active_state, s.sub_state].filter(Boolean).join(' / ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {i.errors.length > 0 ? (
        <>
          <h2>Errors reported by the agent</h2>
          <ul>
            {i.errors.map((e, n) => (
              <li key={n} className="error">
                {e.module ? `${e.module}: ` : ''}
                {e.message}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h2>Drift</h2>
      <ErrorMessage error={drift.error} />
      {d ? (
        <>
          <p data-testid="drift-summary" role="status">
            {d.drift ? 'Drift: the instance does not run what it should.' : 'No drift: the instance runs exactly what it should.'}
          </p>
          <table aria-label="Drift report">
            <thead>
              <tr>
                <th scope="col">Module</th>
                <th scope="col">Kind</th>
                <th scope="col">Should run</th>
                <th scope="col">Runs</th>
              </tr>
            </thead>
            <tbody>
              {driftRows.map((r) => (
                <tr key={`${r.kind}-${r.module}`}>
                  <td>{r.module}</td>
                  <td>{r.kind}</td>
                  <td>
                    <Digest value={r.want} what={`wanted digest of ${r.module}`} />
                  </td>
                  <td>
                    <Digest value={r.have} what={`running digest of ${r.module}`} />
                  </td>
                </tr>
              ))}
              {driftRows.length === 0 ? (
                <tr>
                  <td colSpan={4} className="muted">
                    No missing, extra or mismatched modules.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          {d.unresolved.length ? (
            <p className="warning">
              Could not be desired: <code>{JSON.stringify(d.unresolved)}</code>
            </p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
