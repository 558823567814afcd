/** A parsed `WWW-Authenticate` challenge from a registry. */
export type AuthChallenge =
  { scheme: 'bearer'; realm: string; service?: string; scope?: string } | { scheme: 'basic'; realm?: string } | { scheme: 'unknown'; raw: string };

/**
 * Parses the first challenge of a `WWW-Authenticate` header (`Bearer realm="…",service="…",scope="…"` or
 * `Basic realm="…"`); quoted values may contain commas, as scopes with several actions do.
 */
export function parseAuthChallenge(header: string | null): AuthChallenge {
  const raw = header ?? '';
  const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(raw);
  if (match === null) return { scheme: 'unknown', raw };
  const scheme = match[1]!.toLowerCase();
  const params: Record<string, string> = {};
  const paramPattern = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  for (const param of match[2]!.matchAll(paramPattern)) {
    params[param[1]!.toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : (param[3] ?? '');
  }
  switch (scheme) {
    case 'bearer':
      if (params['realm'] === undefined) return { scheme: 'unknown', raw };
      return {
        scheme: 'bearer',
        realm: params['realm'],
        ...(params['service'] === undefined ? {} : { service: params['service'] }),
        ...(params['scope'] === undefined ? {} : { scope: params['scope'] }),
      };
    case 'basic':
      return { scheme: 'basic', ...(params['realm'] === undefined ? {} : { realm: params['realm'] }) };
    default:
      return { scheme: 'unknown', raw };
  }
}
