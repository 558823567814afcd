import { useState, type FormEvent } from 'react';

import { useResource } from '../components/use-resource.js';
import { ErrorMessage } from '../components/widgets.js';
import { Link } from '../router.js';
import { useCan, useSession } from '../session/session.js';

const templateEvents = (e: { type: string }) => /Template|ModuleVersion|ModuleDeleted|ModuleUpdated/.test(e.type);

export function TemplatesList() {
  const { api } = useSession();
  const list = useResource(() => api.call('system_list_templates', { limit: 200 }), [api], templateEvents);
  return (
    <section aria-labelledby="templates-heading">
      <h1 id="templates-heading">Templates</h1>
      <ErrorMessage error={list.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Description</th>
            <th scope="col">Modules</th>
          </tr>
        </thead>
        <tbody>
          {(list.data?.templates ?? []).map((t) => (
            <tr key={t.id}>
              <td>
                <Link to={`/system/templates/${encodeURIComponent(t.id)}`}>{t.name}</Link>
              </td>
              <td>{t.description}</td>
              <td>{t.modules.map((m) => m.name).join(', ') || <span className="muted">none</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function TemplateDetail(props: { id: string }) {
  const { api } = useSession();
  const canChange = useCan('change');
  const template = useResource(() => api.call('system_get_template', { template_id: props.id }), [api, props.id], templateEvents);
  const preview = useResource(() => api.call('system_compose_preview', { template_id: props.id }), [api, props.id], templateEvents);
  const [moduleName, setModuleName] = useState('');
  const [error, setError] = useState<unknown>();
  const candidates = useResource(
    () => (canChange ? api.call('system_list_modules', { limit: 200, q: moduleName }) : Promise.resolve({ modules: [], next_cursor: null })),
    [api, canChange, moduleName],
  );
  const change = async (call: () => Promise<unknown>): Promise<void> => {
    setError(undefined);
    try {
      await call();
      template.reload();
      preview.reload();
    } catch (e) {
      setError(e);
    }
  };
  const assign = (e: FormEvent): void => {
    e.preventDefault();
    void change(async () => {
      await api.call('system_assign_module_to_template', { template_id: props.id, module_name: moduleName.trim() });
      setModuleName('');
    });
  };
  if (template.error) return <ErrorMessage error={template.error} />;
  const t = template.data?.template;
  if (!t) return <p aria-busy="true">Loading…</p>;
  const p = preview.data?.preview;
  return (
    <section aria-labelledby="template-heading">
      <h1 id="template-heading">Template {t.name}</h1>
      <p className="muted">{t.description}</p>
      <h2>Assigned modules</h2>
      <ul className="assigned">
        {t.modules.map((m) => (
          <li key={m.id}>
            <Link to={`/system/modules/${encodeURIComponent(m.name)}`}>{m.name}</Link>{' '}
            {canChange ? (
              <button
                type="button"
                className="secondary"
                onClick={() => void change(() => api.call('system_unassign_module_from_template', { template_id: t.id, module_name: m.name }))}
              >
                Unassign {m.name}
              </button>
            ) : null}
          </li>
        ))}
        {t.modules.length === 0 ? <li className="muted">No modules assigned.</li> : null}
      </ul>
      {canChange ? (
        <form onSubmit={assign} className="inline-form">
          <label htmlFor="assign-module">Module to assign</label>
          <input id="assign-module" list="assign-candidates" value={moduleName} onChange={(e) => setModuleName(e.target.value)} required />
          <datalist id="assign-candidates">
            {(candidates.data?.modules ?? [])
              .filter((m) => !t.modules.some((a) => a.name === m.name))
              .map((m) => (
                <option key={m.id} value={m.name} />
              ))}
          </datalist>
          <button type="submit" disabled={moduleName.trim() === ''}>
            Assign module
          </button>
        </form>
      ) : null}
      <ErrorMessage error={error} />
      <h2>Compose preview</h2>
      <ErrorMessage error={preview.error} />
      {p ? (
        <>
          <h3>Layers and effective masks</h3>
          <table aria-label="Layers">
            <thead>
              <tr>
                <th scope="col">Module</th>
                <th scope="col">Category</th>
                <th scope="col">Priority</th>
                <th scope="col">Effective mask</th>
              </tr>
            </thead>
            <tbody>
              {p.layers.map((l) => (
                <tr key={l.module}>
                  <td>{l.module}</td>
                  <td>{l.category}</td>
                  <td>{l.priority}</td>
                  <td>{l.effective_mask.length ? <code>{l.effective_mask.join(' ')}</code> : <span className="muted">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Conflicts</h3>
          {p.conflicts.length === 0 ? (
            <p>No protected-path or provides conflicts.</p>
          ) : (
            <ul className="conflicts">
              {p.conflicts.map((c, i) => (
                <li key={i}>
                  <code>{JSON.stringify(c)}</code>
                </li>
              ))}
            </ul>
          )}
          <h3>Dependency closure</h3>
          <table aria-label="Dependency closure">
            <thead>
              <tr>
                <th scope="col">Module (dependencies first)</th>
                <th scope="col">Selected version</th>
              </tr>
            </thead>
            <tbody>
              {p.closure.order.map((name) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>{p.closure.selected[name] ?? <span className="muted">none promoted</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {[
            ['Missing', p.closure.missing],
            ['Not promoted far enough', p.closure.unpromoted],
            ['Cycles', p.closure.cycles],
            ['Invalid requirements', p.closure.invalid],
            ['Range conflicts', p.closure.range_conflicts],
          ].map(([label, items]) =>
            (items as unknown[]).length ? (
              <p key={label as string} className="warning">
                {label as string}: <code>{JSON.stringify(items)}</code>
              </p>
            ) : null,
          )}
        </>
      ) : null}
    </section>
  );
}
