import type { ModuleService } from '@powernode/contracts';
import { splitArgv } from '@powernode/manifest';

/*
 * A manifest's `services[]` become real systemd units in the composed root, so the instance's systemd starts,
 * supervises and restarts them like any packaged service. A package that already ships a unit of that name
 * keeps its own: the module's entry then only names the unit whose state the agent reports.
 */

/** Directories a packaged unit may live in, as a composed root has them. */
export const PACKAGED_UNIT_DIRECTORIES = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'] as const;

/** The unit name of a service or of a word in an init command (`redis-server` → `redis-server.service`). */
export function unitNameOf(name: string): string {
  return /\.(service|socket|target|timer|mount|path)$/.test(name) ? name : `${name}.service`;
}

/** Quotes one argv word for a unit file's Exec line (C-style quoting; `$` and `%` are escaped so systemd expands nothing). */
export function quoteUnitWord(word: string): string {
  const escaped = word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\$/g, '$$$$').replace(/%/g, '%%');
  return `"${escaped}"`;
}

const RESTART: Record<NonNullable<ModuleService['restart_policy']>, string> = { never: 'no', 'on-failure': 'on-failure', always: 'always' };

/** The unit file text of one manifest service (it must have a start_command). */
export function serviceUnitText(moduleName: string, service: ModuleService): string {
  const start = splitArgv(service.start_command ?? '');
  const lines = ['[Unit]', `Description=${service.name} (module ${moduleName})`, 'After=network.target', '', '[Service]', 'Type=simple'];
  lines.push(`ExecStart=${start.map(quoteUnitWord).join(' ')}`);
  if (service.stop_command !== undefined && service.stop_command.trim() !== '')
    lines.push(`ExecStop=${splitArgv(service.stop_command).map(quoteUnitWord).join(' ')}`);
  if (service.user !== undefined && service.user.trim() !== '') lines.push(`User=${service.user}`);
  if (service.working_directory !== undefined) lines.push(`WorkingDirectory=${service.working_directory}`);
  for (const [name, value] of Object.entries(service.env ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(`Environment=${quoteUnitWord(`${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)}`);
  }
  lines.push(`Restart=${RESTART[service.restart_policy ?? 'on-failure']}`);
  lines.push('', '[Install]', 'WantedBy=multi-user.target', '');
  return lines.join('\n');
}

/**
 * The units a module's state is read from: its services, and the units its init.start names after a
 * `systemctl start|restart|enable` (the tutorial's `systemctl start redis-server`).
 */
export function unitsOfModule(services: readonly Pick<ModuleService, 'name'>[], initStart: string | null): string[] {
  const units = new Set(services.map((s) => unitNameOf(s.name)));
  if (initStart !== null) {
    let argv: string[] = [];
    try {
      argv = splitArgv(initStart);
    } catch {
      argv = [];
    }
    const program = argv[0]?.split('/').pop();
    const verb = argv.slice(1).find((word) => !word.startsWith('-'));
    if (program === 'systemctl' && verb !== undefined && ['start', 'restart', 'enable', 'reload-or-restart', 'try-restart'].includes(verb)) {
      for (const word of argv.slice(argv.indexOf(verb) + 1)) if (!word.startsWith('-')) units.add(unitNameOf(word));
    }
  }
  return [...units].sort();
}
