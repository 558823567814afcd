import { useState } from 'react';
import { useResource } from '../components/use-resource.js';
import { ErrorMessage, StateBadge } from '../components/widgets.js';
import { Link } from '../router.js';
import { useCan, useSession } from '../session/session.js';

const PAGE = 50;

/** Modules by name: search, pages of 50, each with its newest version and that version's state. */
export function ModulesList() {
  const { api } = useSession();
  const canChange = useCan('change');
  const [q, setQ] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const list = useResource(
    () => api.call('system_list_modules', { q, limit: PAGE, ...(cursor ? { cursor } : {}) }),
    [api, q, cursor],
    (e) => e.stream.startsWith('module-'),
  );
  return (
    <section aria-labelledby="modules-heading">
      <header className="page-header">
        <h1 id="modules-heading">Modules</h1>
        {canChange ? (
          <Link to="/system/modules/new" className="button">
            Register a module
          </Link>
        ) : null}
      </header>
      <div className="toolbar">
        <label htmlFor="module-search">Search modules</label>
        <input
          id="module-search"
          type="search"
          value={q}
          placeholder="name or display name"
          onChange={(e) => {
            setQ(e.target.value);
            setCursors([]);
          }}
        />
      </div>
      <ErrorMessage error={list.error} />
      <table aria-busy={list.loading}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Display name</th>
            <th scope="col">Category</th>
            <th scope="col">Latest version</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {(list.data?.modules ?? []).map((m) => (
            <tr key={m.id}>
              <td>
                <Link to={`/system/modules/${encodeURIComponent(m.name)}`}>{m.name}</Link>
              </td>
              <td>{m.display_name}</td>
              <td>{m.category}</td>
              <td>{m.latest_version?.version_string ?? <span className="muted">none yet</span>}</td>
              <td>{m.latest_version ? <StateBadge state={m.latest_version.promotion_state} /> : null}</td>
            </tr>
          ))}
          {list.data && list.data.modules.length === 0 ? (
            <tr>
              <td colSpan={5} className="muted">
                No modules{q ? ` match “${q}”` : ''}.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {cursors.length + 1}</span>
        <button type="button" disabled={!list.data?.next_cursor} onClick={() => list.data?.next_cursor && setCursors([...cursors, list.data.next_cursor])}>
          Next page
        </button>
      </nav>
    </section>
  );
}
