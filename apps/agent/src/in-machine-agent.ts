import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentConfig } from './agent-config.js';
import { hostPathOf, pathExists } from './host-commands.js';
import { makeDirectoriesInRoot, symlinkInRoot, writeFileInRoot } from './root-confinement.js';
import { AGENT_DATA, CA_FILE, GATEWAY_SOCKET, LINK_INSIDE } from './machine-link.js';
import type { MachineBind } from './nspawn-machine.js';

/*
 * How the agent runs inside a machine: as the systemd unit `powernode-agent.service` of the composed root,
 * executing the host's Node.js and the compiled agent, both bound read-only into the machine (the machine's
 * own root carries no Node.js; a Debian root shares the host's C and C++ runtime the binary needs). The unit
 * is part of every machine root the keeper composes, so the composed root hash covers it; its paths are the
 * same on every host.
 */

export const AGENT_UNIT = 'powernode-agent.service';
const RUNTIME_INSIDE = '/opt/powernode';
const NODE_INSIDE = `${RUNTIME_INSIDE}/node`;
const APP_INSIDE = `${RUNTIME_INSIDE}/app`;

/** The checkout (or installation) the running agent comes from: apps/agent/dist/… → three levels up. */
const RUNTIME_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The unit. `journal+console` puts the agent's log in the machine's journal and on its console, which the host
 * keeps in machine/console.log. The agent needs its link to the host: without it (a root booted by hand) the
 * unit does not start.
 */
export function agentUnitText(): string {
  return [
    '[Unit]',
    'Description=Powernode instance agent (heartbeats, module init commands and services)',
    `ConditionPathExists=${LINK_INSIDE}/agent.env`,
    '',
    '[Service]',
    'Type=simple',
    `EnvironmentFile=${LINK_INSIDE}/agent.env`,
    // A small heap: the agent holds a few compositions and services, and every machine pays for it.
    `ExecStart=${NODE_INSIDE} --max-old-space-size=48 --max-semi-space-size=1 ${APP_INSIDE}/apps/agent/dist/main.js`,
    'Restart=always',
    'RestartSec=1',
    // SIGTERM to the agent alone: it runs the modules' init.stop commands and sends its last heartbeat.
    'KillMode=mixed',
    'TimeoutStopSec=20',
    'StandardOutput=journal+console',
    'StandardError=journal+console',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** Writes the agent unit (enabled) into a root being composed. */
export async function writeAgentUnit(root: string): Promise<void> {
  // Only through real directories of the root: a module's symlink on the way must not lead onto the host.
  await makeDirectoriesInRoot(root, '/etc/systemd/system/multi-user.target.wants');
  await writeFileInRoot(root, `/etc/systemd/system/${AGENT_UNIT}`, agentUnitText(), 0o644);
  const wants = `/etc/systemd/system/multi-user.target.wants/${AGENT_UNIT}`;
  if (!(await pathExists(hostPathOf(root, wants)))) await symlinkInRoot(root, wants, `/etc/systemd/system/${AGENT_UNIT}`);
}

/**
 * What the machine gets bound: its link to the keeper (read-write: sockets and the agent's state), Node.js and
 * the parts of the runtime the agent loads (read-only). Only these: the runtime root may hold other instances'
 * data, which a machine must not see.
 */
export function agentBinds(linkDir: string, runtimeRoot: string = RUNTIME_ROOT, nodeBinary: string = process.execPath): MachineBind[] {
  return [
    { host: linkDir, inside: LINK_INSIDE, readOnly: false },
    { host: nodeBinary, inside: NODE_INSIDE, readOnly: true },
    ...['package.json', 'node_modules', 'libs', 'apps/agent'].map((part) => ({
      host: path.join(runtimeRoot, part),
      inside: `${APP_INSIDE}/${part}`,
      readOnly: true,
    })),
  ];
}

function envLine(name: string, value: string): string {
  // EnvironmentFile: double quotes keep the value as is; backslashes and quotes are escaped.
  return `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The agent's environment inside the machine (agent.env), derived from the keeper's own configuration. */
export function agentEnvironmentFile(config: AgentConfig, options: { caFile: boolean }): string {
  const env: Record<string, string> = {
    POWERNODE_AGENT_MACHINE: 'inside',
    POWERNODE_INSTANCE_ID: config.instanceId,
    POWERNODE_HOSTNAME: config.hostname,
    POWERNODE_SANDBOX_DIR: LINK_INSIDE,
    POWERNODE_AGENT_DATA_DIR: `${LINK_INSIDE}/${AGENT_DATA}`,
    POWERNODE_GATEWAY_URL: config.gatewayUrl,
    POWERNODE_GATEWAY_SOCKET: `${LINK_INSIDE}/${GATEWAY_SOCKET}`,
    POWERNODE_OCI_REGISTRY: config.registry,
    POWERNODE_AGENT_INIT_TIMEOUT_MS: String(config.initTimeoutMs),
    POWERNODE_AGENT_RETRY_INITIAL_MS: String(config.retryInitialMs),
    POWERNODE_AGENT_RETRY_MAX_MS: String(config.retryMaxMs),
    POWERNODE_AGENT_HTTP_TIMEOUT_MS: String(config.httpTimeoutMs),
    LOG_LEVEL: config.logLevel,
  };
  if (config.heartbeatIntervalMs !== undefined) env['POWERNODE_HEARTBEAT_INTERVAL_MS'] = String(config.heartbeatIntervalMs);
  if (options.caFile) env['POWERNODE_CA_FILE'] = `${LINK_INSIDE}/${CA_FILE}`;
  return `${Object.entries(env)
    .map(([name, value]) => envLine(name, value))
    .join('\n')}\n`;
}
