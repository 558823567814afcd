import { PowernodeError } from '@powernode/contracts';

/** How often an agent reports unless the platform says otherwise (30 s, as the reference agent). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
/** How many consecutive missed reports make an instance stale. */
export const DEFAULT_MISSED_BEATS = 3;
/** An unchanged heartbeat is still recorded as an event this often, so the log alone shows liveness coarsely. */
export const DEFAULT_HEARTBEAT_KEEPALIVE_MS = 15 * 60_000;

/** The silence after which an instance is stale: `intervalMs × missedBeats`. */
export function staleThresholdMs(intervalMs: number, missedBeats: number = DEFAULT_MISSED_BEATS): number {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new PowernodeError('validation_failed', `heartbeat interval must be a positive number of milliseconds, got ${intervalMs}`, {
      details: { field: 'interval_ms', value: intervalMs, rule: 'positive_interval' },
    });
  }
  if (!Number.isInteger(missedBeats) || missedBeats < 1) {
    throw new PowernodeError('validation_failed', `missed beats must be a whole number of at least 1, got ${missedBeats}`, {
      details: { field: 'missed_beats', value: missedBeats, rule: 'positive_missed_beats' },
    });
  }
  return intervalMs * missedBeats;
}

/**
 * True when more than `missedBeats` intervals have passed since `last` (the latest heartbeat, or the moment
 * heartbeats started being expected). Both times are ISO-8601 strings.
 */
export function isHeartbeatStale(last: string, now: string, intervalMs: number, missedBeats: number = DEFAULT_MISSED_BEATS): boolean {
  return epochMs(now, 'now') - epochMs(last, 'last') > staleThresholdMs(intervalMs, missedBeats);
}

/** Milliseconds since the epoch of an ISO-8601 time, or `validation_failed` naming the field. */
export function epochMs(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) {
    throw new PowernodeError('validation_failed', `${field} "${iso}" is not an ISO-8601 time`, { details: { field, value: iso, rule: 'iso_timestamp' } });
  }
  return ms;
}

/** The later of two ISO times (null counts as "never"). */
export function laterOf(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return epochMs(a, 'time') >= epochMs(b, 'time') ? a : b;
}
