import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/*
 * apt's source configuration, read the way apt reads it: deb822 `*.sources` files under
 * /etc/apt/sources.list.d (stanzas separated by blank lines, `#` comments, `Enabled: no` skipped) and the
 * one-line format of /etc/apt/sources.list and `*.list` (`deb [options] URI SUITE COMPONENT…`). Only binary
 * (`deb`) entries matter: the build installs packages, it never builds sources.
 */

/** One configured binary source: where a suite is served from. */
export interface AptSource {
  uri: string;
  suite: string;
  components: string[];
}

function stripTrailingSlash(uri: string): string {
  return uri.replace(/\/+$/, '');
}

/** The binary sources of a deb822 `.sources` file's text. */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  const stanzas = text.split(/\n[ \t]*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    let current: string | undefined;
    for (const rawLine of stanza.split('\n')) {
      if (rawLine.startsWith('#')) continue;
      if (/^[ \t]/.test(rawLine) && current !== undefined) {
        // A continuation line extends the previous field (multi-line Signed-By, long URI lists).
        fields.set(current, `${fields.get(current)!} ${rawLine.trim()}`);
        continue;
      }
      const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(rawLine);
      if (match === null) continue;
      current = match[1]!.toLowerCase();
      fields.set(current, match[2]!.trim());
    }
    const words = (name: string): string[] => (fields.get(name) ?? '').split(/\s+/).filter((word) => word !== '');
    if (!words('types').includes('deb')) continue;
    if (/^(no|false|0)$/i.test(fields.get('enabled') ?? 'yes')) continue;
    for (const uri of words('uris')) {
      for (const suite of words('suites')) sources.push({ uri: stripTrailingSlash(uri), suite, components: words('components') });
    }
  }
  return sources;
}

/** The binary sources of a one-line `sources.list` text. */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*$/, '').trim();
    // `[arch=amd64 signed-by=…]` options sit between the type and the URI.
    const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (match === null) continue;
    sources.push({ uri: stripTrailingSlash(match[1]!), suite: match[2]!, components: match[3]!.split(/\s+/).filter((word) => word !== '') });
  }
  return sources;
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cause;
  }
}

/** Every binary source apt on this machine is configured with (`aptRoot` `/etc/apt` by default), in apt's file order. */
export async function readAptSources(aptRoot = '/etc/apt'): Promise<AptSource[]> {
  const sources = parseOneLineSources((await readIfPresent(path.join(aptRoot, 'sources.list'))) ?? '');
  const directory = path.join(aptRoot, 'sources.list.d');
  let names: string[] = [];
  try {
    names = (await readdir(directory)).sort();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
  }
  for (const name of names) {
    const text = await readIfPresent(path.join(directory, name));
    if (text === undefined) continue;
    if (name.endsWith('.sources')) sources.push(...parseDeb822Sources(text));
    else if (name.endsWith('.list')) sources.push(...parseOneLineSources(text));
  }
  return sources;
}
