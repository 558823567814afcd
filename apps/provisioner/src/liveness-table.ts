import type { AgentHeartbeat, AgentServiceStatus } from '@powernode/contracts';
import type { InstanceLiveness } from './domain/index.js';

/** What the latest heartbeat of an agent said beyond what is recorded as an event. */
export interface AgentLiveness extends InstanceLiveness {
  last_heartbeat_at: string;
  /** The generation the agent last reconciled to. */
  generation: string | null;
  /** Per-module start outcome as the agent reported it (`started`, `skipped: …`, `failed: …`). */
  module_states: Record<string, string>;
  /** The modules' systemd units inside a machine instance, as last reported. */
  services: AgentServiceStatus[];
  /** A machine instance's own address, as last reported. */
  address: string | null;
  /** Files of a machine instance's verified root the kernel refused, as last reported. */
  integrity?: AgentHeartbeat['integrity'];
}

/**
 * The latest report of every agent, in memory. Heartbeats arrive every few seconds and most change nothing,
 * so only changes become events (see the instance decider); this table holds the exact latest time, which
 * `instanceView` merges in and the stale sweeper reads. Lost on restart by design: the sweeper then measures
 * silence from the provisioner's start.
 */
export class LivenessTable {
  private readonly entries = new Map<string, AgentLiveness>();

  /** Records a report unless a newer one is already held (reports may overtake each other). */
  record(instanceId: string, liveness: AgentLiveness): void {
    const current = this.entries.get(instanceId);
    if (current !== undefined && Date.parse(current.last_heartbeat_at) > Date.parse(liveness.last_heartbeat_at)) return;
    this.entries.set(instanceId, liveness);
  }

  get(instanceId: string): AgentLiveness | null {
    return this.entries.get(instanceId) ?? null;
  }

  forget(instanceId: string): void {
    this.entries.delete(instanceId);
  }
}
