import { useState, type FormEvent } from 'react';
import type { NodeView } from '../api/api-types.js';
import { useResource } from '../components/use-resource.js';
import { ErrorMessage, Field, RelativeTime, SelectField, StateBadge } from '../components/widgets.js';
import { Link, navigate } from '../router.js';
import { useCan, useSession } from '../session/session.js';

const provisionerEvents = (e: { type: string }) => e.type.startsWith('Node') || e.type.startsWith('Instance');

/** Nodes with their instances' status, last heartbeat and running modules; Provision for operators. */
export function NodesPage() {
  const { api } = useSession();
  const canChange = useCan('change');
  const nodes = useResource(() => api.call('system_list_nodes', { limit: 200 }), [api], provisionerEvents);
  const instances = useResource(() => api.call('system_list_instances', { limit: 200 }), [api], provisionerEvents);
  const [error, setError] = useState<unknown>();
  const provision = async (node: NodeView): Promise<void> => {
    setError(undefined);
    try {
      const { instance } = await api.call('system_provision_instance', { node_id: node.id });
      navigate(`/system/instances/${encodeURIComponent(instance.id)}`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="nodes-heading">
      <h1 id="nodes-heading">Nodes</h1>
      <ErrorMessage error={nodes.error ?? instances.error} />
      <ErrorMessage error={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Hostname</th>
            <th scope="col">Channel</th>
            <th scope="col">Instances</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(nodes.data?.nodes ?? []).map((n) => {
            const mine = (instances.data?.instances ?? []).filter((i) => i.node_id === n.id);
            return (
              <tr key={n.id}>
                <td>{n.hostname}</td>
                <td>{n.channel}</td>
                <td>
                  {mine.length === 0 ? <span className="muted">none</span> : null}
                  <ul className="plain">
                    {mine.map((i) => (
                      <li key={i.id}>
                        <Link to={`/system/instances/${encodeURIComponent(i.id)}`}>{i.id.slice(0, 8)}</Link> <StateBadge state={i.status} /> heartbeat{' '}
                        <RelativeTime iso={i.last_heartbeat_at} />, {Object.keys(i.running_module_digests).length} modules running
                      </li>
                    ))}
                  </ul>
                </td>
                <td>
                  {canChange ? (
                    <button type="button" onClick={() => void provision(n)}>
                      Provision instance of {n.hostname}
                    </button>
                  ) : null}
                </td>
              </tr>
            );
          })}
          {nodes.data && nodes.data.nodes.length === 0 ? (
            <tr>
              <td colSpan={4} className="muted">
                No nodes yet.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {canChange ? <NewNodeForm onCreated={nodes.reload} /> : null}
    </section>
  );
}

function NewNodeForm(props: { onCreated: () => void }) {
  const { api } = useSession();
  const templates = useResource(() => api.call('system_list_templates', { limit: 200 }), [api]);
  const [hostname, setHostname] = useState('');
  const [template, setTemplate] = useState('');
  const [channel, setChannel] = useState('live');
  const [error, setError] = useState<unknown>();
  const names = (templates.data?.templates ?? []).map((t) => t.name);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.call('system_create_node', { hostname, node_template_id: template || names[0] || '', channel: channel as 'live' | 'blessed' | 'staging' });
      setHostname('');
      props.onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} className="form" aria-labelledby="new-node-heading">
      <h2 id="new-node-heading">New node</h2>
      <Field label="Hostname" value={hostname} onChange={(e) => setHostname(e.target.value)} required />
      <SelectField label="Template" value={template || names[0] || ''} options={names} onChange={setTemplate} />
      <SelectField label="Channel" value={channel} options={['live', 'blessed', 'staging']} onChange={setChannel} />
      <ErrorMessage error={error} />
      <button type="submit" disabled={hostname.trim() === ''}>
        Create node
      </button>
    </form>
  );
}
