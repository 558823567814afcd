import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { PowernodeError } from '@powernode/contracts';
import { writeFileAtomically } from '@powernode/host-machine';
import type { Composition, ReconcileError } from './composition-state.js';
import { compositionSchema } from './agent-state-file.js';

/*
 * The link between a machine instance's agent (inside the machine, a systemd unit) and its keeper (the host
 * process the driver supervises). The keeper owns what only the host can do: the shared, verified layer trees,
 * composing a generation's root from them, and booting the machine on a root. The agent owns the rest: the
 * gateway conversation, the modules' init commands and services, rollback decisions.
 *
 * One directory, `<sandbox>/link` on the host, is bound at `/run/powernode` inside:
 *
 *   keeper.sock    the keeper's HTTP API (below), on a unix socket
 *   gateway.sock   a byte pipe to the gateway (the agent speaks HTTP or TLS to the gateway through it)
 *   booted.json    what the machine booted: the composition and the machine's address (written by the keeper)
 *   agent.env      the agent's environment (systemd EnvironmentFile)
 *   ca.pem         the platform's CA, when it has one
 *   data/          the agent's own state: credential.json (written by the keeper at enrolment), agent-state.json
 *
 * Keeper API (JSON):
 *   POST /stage  {generation}  → 200 Composition (composed, not started) | 409 {code, message} | 422 {errors}
 *                The keeper fetches the desired state itself and composes it only when its generation is the one
 *                asked for: the agent names a generation, never the modules or where they come from.
 *   POST /boot   {root_dir}    → 202; the machine (this agent with it) shuts down and boots on that root
 *   POST /release {root_dir}   → 204; a root no longer needed (never the booted one) is removed
 */

/** The link directory as the agent sees it. */
export const LINK_INSIDE = '/run/powernode';

/** `<sandbox>/link` on the host. */
export function linkDirOf(sandboxDir: string): string {
  return path.join(sandboxDir, 'link');
}

export const KEEPER_SOCKET = 'keeper.sock';
export const GATEWAY_SOCKET = 'gateway.sock';
export const BOOTED_FILE = 'booted.json';
export const AGENT_ENV_FILE = 'agent.env';
export const CA_FILE = 'ca.pem';
export const AGENT_DATA = 'data';

/** What the machine booted. */
export interface BootedRecord {
  composition: Composition;
  address: string | null;
  booted_at: string;
  /** The root the agent asked for did not boot, so the machine came back on this one. */
  failed_boot?: { generation: string; message: string };
}

const bootedSchema = z.object({
  composition: compositionSchema,
  address: z.string().nullable(),
  booted_at: z.string(),
  failed_boot: z.object({ generation: z.string(), message: z.string() }).optional(),
});

export async function writeBootedRecord(linkDir: string, record: BootedRecord): Promise<void> {
  await writeFileAtomically(path.join(linkDir, BOOTED_FILE), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

export async function readBootedRecord(linkDir: string): Promise<BootedRecord | null> {
  const text = await readFile(path.join(linkDir, BOOTED_FILE), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const parsed = bootedSchema.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as BootedRecord) : null;
  } catch {
    return null;
  }
}

/** What the agent inside needs from the host. */
export interface MachineHost {
  /** Has the host compose the root of `generation` (its desired state as the platform states it). */
  stage(generation: string): Promise<Composition>;
  /** Asks the host to boot the machine on `rootDir`; this process ends with the machine's shutdown. */
  boot(rootDir: string): Promise<void>;
  /** Tells the host a root is no longer needed. */
  release(rootDir: string): Promise<void>;
  /** What the machine booted (null: unknown). */
  booted(): Promise<BootedRecord | null>;
}

/** A stage the keeper refused, with the problems to report. */
export class StageRefused extends Error {
  constructor(
    readonly errors: ReconcileError[],
    readonly retryable: boolean,
  ) {
    super(errors.map((e) => (e.module_name === null ? e.message : `${e.module_name}: ${e.message}`)).join('; '));
  }
}

const stageRefusal = z.object({ errors: z.array(z.object({ module_name: z.string().nullable(), message: z.string() })), retryable: z.boolean().optional() });

/** The agent's side of the keeper API, over `keeper.sock`. */
export class KeeperClient implements MachineHost {
  constructor(
    private readonly linkDir: string,
    private readonly timeoutMs: number,
    /** A QEMU machine's keeper: its API over TCP (the host's user-network address) and the token file it left in the link. */
    private readonly overTcp?: { url: string; tokenFile: string },
  ) {}

  async stage(generation: string): Promise<Composition> {
    const { status, body } = await this.call('POST', '/stage', { generation });
    if (status === 200) {
      const parsed = compositionSchema.safeParse(body);
      if (!parsed.success)
        throw new StageRefused([{ module_name: null, message: 'the host answered the stage with something that is not a composition' }], true);
      return parsed.data as Composition;
    }
    const refusal = stageRefusal.safeParse(body);
    if (refusal.success) throw new StageRefused(refusal.data.errors, refusal.data.retryable ?? status !== 422);
    throw new StageRefused([{ module_name: null, message: `the host answered the stage with HTTP ${status}` }], true);
  }

  async boot(rootDir: string): Promise<void> {
    const { status, body } = await this.call('POST', '/boot', { root_dir: rootDir });
    if (status !== 202)
      throw new PowernodeError('machine_failed', `the host refused to boot ${rootDir}: HTTP ${status} ${JSON.stringify(body)}`, {
        retryable: true,
        details: { rule: 'machine_link' },
      });
  }

  async release(rootDir: string): Promise<void> {
    await this.call('POST', '/release', { root_dir: rootDir });
  }

  booted(): Promise<BootedRecord | null> {
    return readBootedRecord(this.linkDir);
  }

  private async call(method: string, route: string, payload: unknown): Promise<{ status: number; body: unknown }> {
    const data = Buffer.from(JSON.stringify(payload));
    const where =
      this.overTcp === undefined
        ? { socketPath: path.join(this.linkDir, KEEPER_SOCKET) }
        : { host: new URL(this.overTcp.url).hostname, port: Number(new URL(this.overTcp.url).port) };
    const token = this.overTcp === undefined ? undefined : (await readFile(this.overTcp.tokenFile, 'utf8').catch(() => '')).trim();
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...where,
          path: route,
          method,
          headers: {
            'content-type': 'application/json',
            'content-length': String(data.length),
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          },
          timeout: this.timeoutMs,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            let body: unknown = null;
            try {
              body = text === '' ? null : JSON.parse(text);
            } catch {
              body = text;
            }
            resolve({ status: res.statusCode ?? 500, body });
          });
        },
      );
      req.once('timeout', () => req.destroy(new Error(`no answer from the host's keeper within ${this.timeoutMs} ms`)));
      req.once('error', (cause) =>
        reject(
          new PowernodeError(
            'machine_failed',
            `cannot reach the host's keeper at ${this.overTcp?.url ?? path.join(this.linkDir, KEEPER_SOCKET)}: ${cause.message}`,
            {
              cause,
              retryable: true,
              details: { rule: 'machine_link' },
            },
          ),
        ),
      );
      req.end(data);
    });
  }
}
