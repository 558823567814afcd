import { PowernodeError } from '@powernode/contracts';

/*
 * Files every Debian package install rewrites whole: the account databases, dpkg's status and apt's
 * extended states. Each module layer is captured on the same base, so each carries its own full copy; laid
 * down in priority order the top copy would erase the users and packages of every module below it. Composing
 * therefore merges the copies entry by entry (a union) instead of letting one win.
 */

/** Paths merged at compose time instead of replaced, with how their entries are keyed. */
export const SHARED_DATABASES: ReadonlyMap<string, SharedDatabaseKind> = new Map([
  ['/etc/passwd', 'passwd'],
  ['/etc/group', 'group'],
  ['/etc/shadow', 'shadow'],
  ['/etc/gshadow', 'gshadow'],
  ['/var/lib/dpkg/status', 'deb822'],
  ['/var/lib/apt/extended_states', 'deb822'],
] as const);

/** How a shared database's entries are keyed and compared. */
export type SharedDatabaseKind = 'passwd' | 'group' | 'shadow' | 'gshadow' | 'deb822';

/** One module's copy of a shared database. */
export interface DatabaseCopy {
  module_name: string;
  content: string;
}

interface ColonEntry {
  name: string;
  id: string | undefined;
  line: string;
  module_name: string;
}

function colonEntries(copy: DatabaseCopy, idField: number | undefined): ColonEntry[] {
  return copy.content
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const fields = line.split(':');
      return { name: fields[0]!, id: idField === undefined ? undefined : fields[idField], line, module_name: copy.module_name };
    });
}

function conflict(path: string, what: string, first: ColonEntry, second: ColonEntry): PowernodeError {
  return new PowernodeError(
    'compose_conflict',
    `${path}: modules ${first.module_name} and ${second.module_name} both define ${what} differently (${JSON.stringify(first.line.split(':').slice(0, 4).join(':'))} vs ${JSON.stringify(second.line.split(':').slice(0, 4).join(':'))}); build them on the same base so their users and groups agree, or remove one from the template`,
    { details: { path, modules: [first.module_name, second.module_name], rule: 'shared_database_conflict' } },
  );
}

/**
 * Union of colon-separated account files. The lowest layer's entry for a name stays (a higher module cannot
 * redefine an account the base or a neighbour owns); the same name with another id, or the same id under
 * another name, is a compose error naming both modules, because files on disk are owned by those ids.
 */
function mergeColonFile(path: string, copies: readonly DatabaseCopy[], idField: number | undefined): string {
  const byName = new Map<string, ColonEntry>();
  const byId = new Map<string, ColonEntry>();
  const order: string[] = [];
  for (const copy of copies) {
    for (const entry of colonEntries(copy, idField)) {
      const known = byName.get(entry.name);
      if (known !== undefined) {
        if (entry.id !== undefined && known.id !== entry.id) throw conflict(path, `${entry.name}`, known, entry);
        continue;
      }
      if (entry.id !== undefined) {
        const owner = byId.get(entry.id);
        if (owner !== undefined && owner.name !== entry.name) throw conflict(path, `id ${entry.id}`, owner, entry);
        byId.set(entry.id, entry);
      }
      byName.set(entry.name, entry);
      order.push(entry.name);
    }
  }
  return order.map((name) => `${byName.get(name)!.line}\n`).join('');
}

function deb822Key(stanza: string): string {
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(stanza)?.[1]?.trim() ?? '';
  return `${field('Package')}:${field('Architecture')}`;
}

/** Union of deb822 stanzas keyed by package and architecture; a higher layer's stanza replaces a lower one's. */
function mergeDeb822(copies: readonly DatabaseCopy[]): string {
  const stanzas = new Map<string, string>();
  for (const copy of copies) {
    for (const stanza of copy.content.split(/\n\s*\n/)) {
      const trimmed = stanza.replace(/^\n+|\n+$/g, '');
      if (trimmed === '') continue;
      stanzas.set(deb822Key(trimmed), trimmed);
    }
  }
  const keys = [...stanzas.keys()].sort();
  return keys.map((key) => `${stanzas.get(key)!}\n`).join('\n');
}

/** The merged content of a shared database from every module's copy, lowest layer first. */
export function mergeSharedDatabase(path: string, copies: readonly DatabaseCopy[]): string {
  const kind = SHARED_DATABASES.get(path);
  switch (kind) {
    case 'passwd':
      return mergeColonFile(path, copies, 2);
    case 'group':
      return mergeColonFile(path, copies, 2);
    case 'shadow':
    case 'gshadow':
      return mergeColonFile(path, copies, undefined);
    case 'deb822':
      return mergeDeb822(copies);
    case undefined:
      throw new PowernodeError('internal', `${path} is not a shared database`);
    default: {
      const unreachable: never = kind;
      return unreachable;
    }
  }
}
