import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '@powernode/testing';
import type { HypervisorDriver } from '../../src/drivers/hypervisor-driver.js';
import { LocalDriver, type LocalDriverEvent, type LocalDriverOptions } from '../../src/drivers/local-driver.js';
import type { DriverContractFixture } from './driver-contract.js';

export const STAND_IN_AGENT = fileURLToPath(new URL('./fixtures/stand-in-agent.mjs', import.meta.url));

/** The stand-in agent's last heartbeat file, or null before it wrote one. */
export function readHeartbeat(sandboxDir: string): { pid: number; beats: number } | null {
  try {
    return JSON.parse(readFileSync(path.join(sandboxDir, 'heartbeat'), 'utf8')) as { pid: number; beats: number };
  } catch {
    return null;
  }
}

export interface LocalDriverFixture extends DriverContractFixture {
  dataDir: string;
  driver: LocalDriver;
  events: LocalDriverEvent[];
  newDriver(overrides?: Partial<LocalDriverOptions>): LocalDriver;
}

/** A LocalDriver over a fresh temp data dir running the stand-in agent. */
export async function localDriverFixture(overrides: Partial<LocalDriverOptions> = {}): Promise<LocalDriverFixture> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'powernode-local-driver-'));
  const events: LocalDriverEvent[] = [];
  const drivers: LocalDriver[] = [];
  const newDriver = (more: Partial<LocalDriverOptions> = {}): LocalDriver => {
    const driver = new LocalDriver({
      dataDir,
      agentCommand: [process.execPath, STAND_IN_AGENT],
      stopGraceMs: 5_000,
      pollIntervalMs: 50,
      restartBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: (event) => events.push(event),
      ...overrides,
      ...more,
    });
    drivers.push(driver);
    return driver;
  };
  const driver = newDriver();
  const sandboxOf = (instanceId: string): string => path.join(driver.instanceDir(instanceId), 'sandbox');
  return {
    dataDir,
    driver,
    events,
    newDriver,
    restart: async () => newDriver(),
    async crash(instanceId) {
      const pid = JSON.parse(await readFile(path.join(driver.instanceDir(instanceId), 'agent.pid'), 'utf8')).pid as number;
      process.kill(pid, 'SIGKILL');
      await waitUntil(`agent ${pid} to die`, async () => (await driver.agentPid(instanceId)) === null);
    },
    async runtimeToken(d: HypervisorDriver, instanceId) {
      const pid = await (d as LocalDriver).agentPid(instanceId);
      return pid === null ? null : String(pid);
    },
    async waitUntilUp(instanceId) {
      await waitUntil(`the agent of ${instanceId} to write a heartbeat`, async () => {
        const pid = await driver.agentPid(instanceId);
        return pid !== null && readHeartbeat(sandboxOf(instanceId))?.pid === pid;
      });
    },
    async cleanup() {
      for (const d of drivers) await d.close();
      // Whatever a test left running is stopped before its directory goes.
      const sweeper = new LocalDriver({ dataDir, agentCommand: [process.execPath, STAND_IN_AGENT], stopGraceMs: 200 });
      for (const id of await sweeper.list()) await sweeper.destroy(id);
      await sweeper.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
