import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { writeFileAtomically, type ProcessIdentity } from '@powernode/host-machine';
import { parseInstanceId, type InstanceSpec } from './hypervisor-driver.js';

/*
 * What the local driver keeps on disk per instance, under `<dataDir>/instances/<instance_id>/` (mode 0700):
 *
 *   instance.json   the spec and whether the instance should run (mode 0600: it holds the enrolment token)
 *   agent.pid       identity of the running agent: pid, start time, boot id (@powernode/host-machine)
 *   agent.log       the agent's stdout and stderr, appended
 *   sandbox/        the agent's own tree (POWERNODE_SANDBOX_DIR); its data dir defaults to sandbox/data
 *
 * Both records are written atomically and flushed, so a crash or power cut leaves the old record or the
 * new one.
 */

export interface InstanceRecord {
  spec: InstanceSpec;
  desired: 'running' | 'stopped';
  created_at: string;
}

/** agent.pid: the agent's identity, what it runs and when it started. */
export interface AgentPidFile extends ProcessIdentity {
  argv: string[];
  started_at: string;
}

/** The instances' directories and their records under one data dir. */
export class InstanceRecords {
  readonly instancesDir: string;

  constructor(dataDir: string) {
    this.instancesDir = path.join(path.resolve(dataDir), 'instances');
  }

  /** Where an instance's files live. */
  instanceDir(instanceId: string): string {
    return path.join(this.instancesDir, parseInstanceId(instanceId));
  }

  /** The agent's own tree (POWERNODE_SANDBOX_DIR). */
  sandboxDir(id: string): string {
    return path.join(this.instanceDir(id), 'sandbox');
  }

  agentLogPath(id: string): string {
    return path.join(this.instanceDir(id), 'agent.log');
  }

  private recordPath(id: string): string {
    return path.join(this.instanceDir(id), 'instance.json');
  }

  private pidFilePath(id: string): string {
    return path.join(this.instanceDir(id), 'agent.pid');
  }

  /** Whether the instance was created (its instance.json exists). */
  exists(id: string): boolean {
    return existsSync(this.recordPath(id));
  }

  /** Makes the instance's directory and sandbox (tolerating the directory of a create that crashed before writing instance.json). */
  async makeDirectories(id: string): Promise<void> {
    await mkdir(this.instancesDir, { recursive: true, mode: 0o700 });
    await mkdir(this.instanceDir(id), { recursive: true, mode: 0o700 });
    await mkdir(this.sandboxDir(id), { recursive: true, mode: 0o700 });
  }

  /** Removes the instance's directory with everything in it. */
  async remove(id: string): Promise<void> {
    await rm(this.instanceDir(id), { recursive: true, force: true });
  }

  /** The ids of the created instances, sorted. */
  async list(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.instancesDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const ids: string[] = [];
    for (const entry of entries) if (existsSync(path.join(this.instancesDir, entry, 'instance.json'))) ids.push(entry);
    return ids.sort();
  }

  /** instance.json, or null when the instance was never created (or is destroyed). */
  async read(id: string): Promise<InstanceRecord | null> {
    try {
      return JSON.parse(await readFile(this.recordPath(id), 'utf8')) as InstanceRecord;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new PowernodeError('internal', `instance ${id}: cannot read ${this.recordPath(id)}: ${(error as Error).message}`, { cause: error });
    }
  }

  async write(id: string, record: InstanceRecord): Promise<void> {
    await writeFileAtomically(this.recordPath(id), `${JSON.stringify(record, null, 2)}\n`, 0o600);
  }

  /**
   * agent.pid: 'absent' when there is none; null when it is torn or foreign (it names no process that can be
   * vouched for).
   */
  async readAgentPid(id: string): Promise<AgentPidFile | null | 'absent'> {
    try {
      return JSON.parse(await readFile(this.pidFilePath(id), 'utf8')) as AgentPidFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      if (error instanceof SyntaxError) return null;
      throw error;
    }
  }

  /** Records the agent now running for the instance. */
  async writeAgentPid(id: string, identity: ProcessIdentity, argv: readonly string[]): Promise<void> {
    const pidFile: AgentPidFile = { ...identity, argv: [...argv], started_at: new Date().toISOString() };
    await writeFileAtomically(this.pidFilePath(id), `${JSON.stringify(pidFile)}\n`, 0o600);
  }

  async removeAgentPid(id: string): Promise<void> {
    await rm(this.pidFilePath(id), { force: true });
  }
}
