import type { DesiredModules, UnresolvedReason } from './desired-modules.js';
import type { InstanceView } from './instances.projection.js';

/** What should run against what runs, per module name, compared by composefs digest. */
export interface DriftReport {
  drift: boolean;
  /** Desired but not running: module → wanted digest. */
  missing: Record<string, string>;
  /** Running but not desired: module → running digest. */
  extra: Record<string, string>;
  /** Running another version: module → {want, have}. */
  mismatched: Record<string, { want: string; have: string }>;
}

/** `system_drift_report`: the drift report plus counts, the instance's liveness and what could not be desired. */
export interface InstanceDriftReport extends DriftReport {
  instance_id: string;
  missing_count: number;
  extra_count: number;
  mismatched_count: number;
  last_heartbeat_at: string | null;
  heartbeat_stale: boolean;
  unresolved: UnresolvedReason[];
  /** Units of desired modules that systemd reports failed inside the instance. */
  services_failed: Array<{ module: string; name: string; since: string | null }>;
  /** Files the kernel refused to read because they do not match their signed digest (a QEMU machine's verified root). */
  integrity: Array<{ path: string; module: string | null; detected_at: string }>;
}

/**
 * Compares the desired modules (their composefs digests) with `running_module_digests`. A module that could
 * not be resolved is not desired, so when it still runs it shows up as `extra`.
 */
export function driftReport(desired: Pick<DesiredModules, 'modules'>, running: Readonly<Record<string, string>>): DriftReport {
  const missing: Record<string, string> = {};
  const extra: Record<string, string> = {};
  const mismatched: Record<string, { want: string; have: string }> = {};
  for (const [name, module] of Object.entries(desired.modules)) {
    const have = Object.prototype.hasOwnProperty.call(running, name) ? running[name]! : undefined;
    if (have === undefined) missing[name] = module.composefs_digest;
    else if (have !== module.composefs_digest) mismatched[name] = { want: module.composefs_digest, have };
  }
  for (const [name, have] of Object.entries(running)) {
    if (!Object.prototype.hasOwnProperty.call(desired.modules, name)) extra[name] = have;
  }
  const drift = Object.keys(missing).length + Object.keys(extra).length + Object.keys(mismatched).length > 0;
  return { drift, missing, extra, mismatched };
}

/** The drift report of one instance from its desired modules and its view. */
export function instanceDriftReport(desired: DesiredModules, instance: InstanceView): InstanceDriftReport {
  const report = driftReport(desired, instance.running_module_digests);
  const services_failed = (instance.services ?? []).filter((s) => s.state === 'failed').map((s) => ({ module: s.module, name: s.name, since: s.since }));
  const integrity = (instance.integrity ?? []).map((v) => ({ path: v.path, module: v.module, detected_at: v.detected_at }));
  return {
    ...report,
    drift: report.drift || services_failed.length > 0 || integrity.length > 0,
    services_failed,
    integrity,
    instance_id: instance.id,
    missing_count: Object.keys(report.missing).length,
    extra_count: Object.keys(report.extra).length,
    mismatched_count: Object.keys(report.mismatched).length,
    last_heartbeat_at: instance.last_heartbeat_at,
    heartbeat_stale: instance.heartbeat_stale,
    unresolved: desired.unresolved,
  };
}
