/** One printed step: a tool call, a CLI command, or a remark. */
export type DemoRecord =
  | { kind: 'call'; step: string; tool: string; args: Record<string, unknown>; result: unknown; token?: string }
  | { kind: 'command'; step: string; argv: string[]; env?: Record<string, string>; result: unknown }
  | { kind: 'note'; step: string; text: string };

/** Where the demo's transcript goes. */
export interface Narrator {
  heading(title: string): void;
  record(record: DemoRecord): void;
}

/** Prints the transcript the way the tutorial writes it, results compacted to one line. */
export function textNarrator(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Narrator {
  return {
    heading: (title) => write(`\n── ${title}`),
    record(r) {
      switch (r.kind) {
        case 'call':
          write(`platform${r.token ? `[${r.token}]` : ''}.${r.tool}(${objectLiteral(r.args)})`);
          write(`// → ${compactJson(r.result)}`);
          return;
        case 'command':
          write(`$ ${[...Object.entries(r.env ?? {}).map(([k, v]) => `${k}=${v}`), ...r.argv.map(shellWord)].join(' ')}`);
          write(`// → ${compactJson(r.result)}`);
          return;
        case 'note':
          write(`// ${r.text}`);
          return;
        default:
          return assertNever(r);
      }
    },
  };
}

/** One JSON line per record (`{step, tool, args, result, as?}`, `{step, command, env?, result}`, `{step, note}`), secrets redacted, for machines. */
export function jsonNarrator(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Narrator {
  return {
    heading: () => undefined,
    record(r) {
      switch (r.kind) {
        case 'call':
          write(JSON.stringify({ step: r.step, tool: r.tool, args: r.args, result: r.result, ...(r.token ? { as: r.token } : {}) }, redactSecrets));
          return;
        case 'command':
          write(JSON.stringify({ step: r.step, command: r.argv, ...(r.env ? { env: r.env } : {}), result: r.result }, redactSecrets));
          return;
        case 'note':
          write(JSON.stringify({ step: r.step, note: r.text }));
          return;
        default:
          return assertNever(r);
      }
    },
  };
}

/** `{ module_name: "my-redis", to: "live" }`: arguments as the tutorial writes them. */
function objectLiteral(args: Record<string, unknown>): string {
  const entries = Object.entries(args).map(
    ([k, v]) =>
      `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${typeof v === 'string' && v.length > 120 ? JSON.stringify(`${v.slice(0, 40)}…`) : JSON.stringify(v)}`,
  );
  return entries.length === 0 ? '' : `{ ${entries.join(', ')} }`;
}

/** Secrets shown once by the platform stay out of transcripts. */
function redactSecrets(key: string, value: unknown): unknown {
  return (key === 'webhook_secret' || key === 'token') && typeof value === 'string' ? '(secret, shown once: redacted)' : value;
}

/**
 * One line of JSON as the tutorial shows results: the fields a reader follows (ids, states, digests), digests
 * shortened to 12 hex digits, secrets redacted, long strings cut.
 */
function compactJson(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    const redacted = redactSecrets(key, v);
    if (redacted !== v) return redacted;
    if (typeof v === 'string') {
      if (/^sha256:[0-9a-f]{64}$/.test(v)) return `${v.slice(0, 19)}…`;
      return v.length > 100 ? `${v.slice(0, 97)}…` : v;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return summaryOf(v as Record<string, unknown>);
  });
}

/** The fields of a platform object the tutorial's results show; other objects pass unchanged. */
function summaryOf(o: Record<string, unknown>): Record<string, unknown> {
  const pick = (...keys: string[]) =>
    Object.fromEntries(keys.filter((k) => o[k] !== undefined && !(Array.isArray(o[k]) && (o[k] as unknown[]).length === 0)).map((k) => [k, o[k]]));
  if ('promotion_state' in o)
    return pick('id', 'version_string', 'promotion_state', 'composefs_digest', 'fsverity_root_hash', 'cosign_verified', 'rejection_reason');
  if ('running_module_digests' in o && 'status' in o) return pick('id', 'status', 'running_module_digests', 'errors', 'last_heartbeat_at');
  if ('gitea_repo_full_name' in o) return pick('id', 'name', 'category', 'gitea_repo_full_name', 'approval_policy', 'requires');
  if ('instance_ids' in o && 'hostname' in o) return pick('id', 'hostname', 'node_template_id', 'channel');
  if ('modules' in o && 'name' in o && Array.isArray(o['modules']))
    return { id: o['id'], name: o['name'], modules: (o['modules'] as { name: string }[]).map((m) => m.name) };
  if ('requested_by' in o && 'status' in o) return pick('id', 'to', 'status', 'requested_by', 'decided_by');
  if ('manifest_digest' in o && 'ref' in o)
    return {
      ref: o['ref'],
      manifest_digest: o['manifest_digest'],
      composefs_digest: o['composefs_digest'],
      fsverity_root_hash: o['fsverity_root_hash'],
      signer: (o['signature'] as { signer?: unknown } | undefined)?.signer,
      webhook: { status: (o['webhook'] as { status?: unknown } | undefined)?.status },
    };
  if ('drift' in o && 'mismatched' in o) return pick('drift', 'missing', 'extra', 'mismatched', 'unresolved');
  return o;
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
