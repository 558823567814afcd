import { useState, type FormEvent } from 'react';
import type { ApprovalView, LoggedEvent, ModuleView } from '../api/api-types.js';
import { useResource } from '../components/use-resource.js';
import { Digest, ErrorMessage, Field, RelativeTime, StateBadge } from '../components/widgets.js';
import { mayApprove, promotionActions } from '../domain/promotion-actions.js';
import { useLiveEvents } from '../live/live-events.js';
import { useCan, useSession } from '../session/session.js';

/** Events that concern the module `name`: its record, its versions, its approvals, its builds. */
const concerns = (name: string) => (e: LoggedEvent) => e.data?.module_name === name || e.data?.name === name || e.type.startsWith('PromotionApproval');

/** What ingest is doing with a reported build, from the events: reported, then built or rejected. */
interface IngestStep {
  tag: string;
  state: 'verifying' | 'built' | 'rejected';
  detail?: string;
}

function useIngestProgress(name: string): IngestStep[] {
  const [builds, setBuilds] = useState<IngestStep[]>([]);
  useLiveEvents(
    (e) => e.data?.module_name === name && ['ModuleBuildReported', 'ModuleVersionBuilt', 'ModuleVersionRejected'].includes(e.type),
    (e) => {
      const tag = String(e.data.tag ?? e.data.version_string ?? '');
      const state: IngestStep['state'] = e.type === 'ModuleBuildReported' ? 'verifying' : e.type === 'ModuleVersionBuilt' ? 'built' : 'rejected';
      const detail = e.type === 'ModuleVersionRejected' ? String(e.data.reason ?? e.data.code ?? '') : undefined;
      setBuilds((all) => [...all.filter((b) => b.tag !== tag), { tag, state, ...(detail ? { detail } : {}) }].slice(-5));
    },
  );
  return builds;
}

export function ModuleDetail(props: { name: string }) {
  const { api, me } = useSession();
  const canChange = useCan('change');
  const name = props.name;
  const affects = concerns(name);
  const module = useResource(() => api.call('system_get_module', { module_name: name }), [api, name], affects);
  const versions = useResource(() => api.call('system_list_module_versions', { module_name: name, limit: 200 }), [api, name], affects);
  const approvals = useResource(() => api.call('system_list_approvals', { status: 'pending', limit: 200 }), [api], affects);
  const builds = useIngestProgress(name);
  const [actionError, setActionError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const act = async (what: string, call: () => Promise<unknown>): Promise<void> => {
    setActionError(undefined);
    setNotice(undefined);
    try {
      const answer = (await call()) as { approval?: ApprovalView } | undefined;
      setNotice(answer?.approval ? `${what}: approval requested; an approver other than you must approve it` : `${what}: done`);
      versions.reload();
      approvals.reload();
    } catch (e) {
      setActionError(e);
    }
  };
  if (module.error) return <ErrorMessage error={module.error} />;
  const m = module.data?.module;
  if (!m) return <p aria-busy="true">Loading…</p>;
  const pending = (approvals.data?.approvals ?? []).filter((a) => a.module_name === name);
  return (
    <section aria-labelledby="module-heading">
      <header className="page-header">
        <h1 id="module-heading">{m.name}</h1>
        <span className="muted">{m.display_name}</span>
      </header>
      <dl className="facts">
        <dt>Category</dt>
        <dd>{m.category}</dd>
        <dt>Variety</dt>
        <dd>{m.variety}</dd>
        <dt>Repository</dt>
        <dd>{m.gitea_repo_full_name}</dd>
        <dt>Approval policy</dt>
        <dd>{m.approval_policy}</dd>
        <dt>Templates</dt>
        <dd>{m.assigned_templates.length ? m.assigned_templates.join(', ') : <span className="muted">none</span>}</dd>
      </dl>
      <PolicyEditor module={m} canChange={canChange} onSaved={module.reload} />
      {builds.length > 0 ? (
        <section aria-labelledby="ingest-heading" className="progress">
          <h2 id="ingest-heading">Ingest</h2>
          <ul aria-live="polite">
            {builds.map((b) => (
              <li key={b.tag}>
                {b.tag}: <StateBadge state={b.state} /> {b.state === 'verifying' ? 'pulling and verifying signature and fs-verity…' : (b.detail ?? '')}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {pending.length > 0 ? (
        <section aria-labelledby="approvals-heading">
          <h2 id="approvals-heading">Pending approvals</h2>
          <ul>
            {pending.map((a) => (
              <li key={a.id}>
                {a.version_string} → {a.to}, requested by {a.requested_by} <RelativeTime iso={a.requested_at} />
                {mayApprove(me.permissions, me.name, a.requested_by) ? (
                  <>
                    {' '}
                    <button
                      type="button"
                      onClick={() => void act(`approve ${a.version_string}`, () => api.call('system_approve_promotion', { approval_id: a.id }))}
                    >
                      Approve {a.version_string} to live
                    </button>{' '}
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => void act(`reject ${a.version_string}`, () => api.call('system_reject_promotion', { approval_id: a.id }))}
                    >
                      Reject {a.version_string}
                    </button>
                  </>
                ) : me.permissions.includes('approve') ? (
                  <span className="muted"> (you requested it: another approver must approve)</span>
                ) : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {notice ? <p role="status">{notice}</p> : null}
      <ErrorMessage error={actionError} />
      <h2>Versions</h2>
      <ErrorMessage error={versions.error} />
      <table aria-label="Versions">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">State</th>
            <th scope="col">Cosign verified</th>
            <th scope="col">composefs digest</th>
            <th scope="col">OCI digest</th>
            <th scope="col">Rejection reason</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(versions.data?.versions ?? []).map((v) => {
            const waiting = pending.some((a) => a.version_id === v.id);
            return (
              <tr key={v.id} data-version={v.version_string}>
                <td>{v.version_string}</td>
                <td>
                  <StateBadge state={v.promotion_state} />
                  {waiting ? <span className="muted"> (live pending approval)</span> : null}
                </td>
                <td>{v.cosign_verified ? 'yes' : 'no'}</td>
                <td>
                  <Digest value={v.composefs_digest} what={`composefs digest of ${v.version_string}`} />
                </td>
                <td>
                  <Digest value={v.oci_digest} what={`OCI digest of ${v.version_string}`} />
                </td>
                <td>{v.rejection_reason ?? <span className="muted">—</span>}</td>
                <td className="actions">
                  {promotionActions(v.promotion_state, me.permissions, v.cosign_verified && v.rejection_reason === null)
                    .filter((a) => !(waiting && a.to === 'live'))
                    .map((a) => (
                      <button
                        key={a.to}
                        type="button"
                        className={a.to === 'retired' || a.to === 'built' ? 'secondary' : undefined}
                        onClick={() => void act(`${a.label} (${v.version_string})`, () => api.call('system_promote_module_version', { id: v.id, to: a.to }))}
                      >
                        {a.label}
                      </button>
                    ))}
                </td>
              </tr>
            );
          })}
          {versions.data && versions.data.versions.length === 0 ? (
            <tr>
              <td colSpan={7} className="muted">
                No versions yet: publish a build and it appears here as soon as ingest records it.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </section>
  );
}

/** The trust policy (identity and issuer patterns), editable with the change permission. */
function PolicyEditor(props: { module: ModuleView; canChange: boolean; onSaved: () => void }) {
  const { api } = useSession();
  const [identity, setIdentity] = useState(props.module.cosign_identity_regexp);
  const [issuer, setIssuer] = useState(props.module.cosign_issuer_regexp);
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<unknown>();
  if (!editing) {
    return (
      <section aria-labelledby="policy-heading">
        <h2 id="policy-heading">Signature policy</h2>
        <dl className="facts">
          <dt>Cosign identity regexp</dt>
          <dd>
            <code>{props.module.cosign_identity_regexp}</code>
          </dd>
          <dt>Cosign issuer regexp</dt>
          <dd>
            <code>{props.module.cosign_issuer_regexp}</code>
          </dd>
        </dl>
        {props.canChange ? (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setIdentity(props.module.cosign_identity_regexp);
              setIssuer(props.module.cosign_issuer_regexp);
              setEditing(true);
            }}
          >
            Edit signature policy
          </button>
        ) : null}
      </section>
    );
  }
  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.call('system_update_module', { module_name: props.module.name, cosign_identity_regexp: identity, cosign_issuer_regexp: issuer });
      setEditing(false);
      props.onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={(e) => void save(e)} className="form" aria-labelledby="policy-edit-heading">
      <h2 id="policy-edit-heading">Signature policy</h2>
      <Field label="Cosign identity regexp" value={identity} onChange={(e) => setIdentity(e.target.value)} required />
      <Field label="Cosign issuer regexp" value={issuer} onChange={(e) => setIssuer(e.target.value)} required />
      <ErrorMessage error={error} />
      <button type="submit">Save signature policy</button>{' '}
      <button type="button" className="secondary" onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}
