import { z } from 'zod';
import { hostnameSchema, PowernodeError, type InstanceExecEnd, type InstanceExecStream } from '@powernode/contracts';

/*
 * The port between the provisioner and whatever runs instances. The provisioner decides (instance deciders)
 * and then asks a driver to make the world match: create an instance's runtime, start and stop it, destroy it,
 * and say what state it is in. Every operation is idempotent, because the provisioner retries after a crash
 * and reconciles terminated instances by destroying whatever is left.
 *
 * Drivers:
 *   local    a sandbox directory under the data dir plus a supervised agent process (the default)
 *   libvirt  (later) a QEMU/KVM domain booted from a kernel + initramfs; the identity fields of the spec
 *            (instance id, hostname, enrolment token, gateway/NATS/registry addresses, CA) reach the guest
 *            through fw-cfg (`opt/io.powernode/identity`); create = define the domain, start = boot it,
 *            stop = ACPI shutdown then destroy after the grace period, destroy = undefine + remove its disk,
 *            status = the domain state, list = domains carrying our metadata, adopt = look the domain up
 *            again after a provisioner restart.
 *
 * The provisioner may restart while instances keep running: after it starts it calls `list()` and `adopt()`
 * for each instance it still wants, which re-attaches supervision to a running instance or restarts one that
 * should run but does not.
 */

/** What a driver needs to bring up one instance. Secrets (the enrolment token) never leave the driver's private state. */
export const instanceSpecSchema = z.object({
  /** Used as a directory or domain name: letters, digits, `.`, `_`, `-`; no path separators. */
  instance_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  hostname: hostnameSchema,
  /** One-time token the agent exchanges for its credential. */
  enrolment_token: z.string().min(16, 'must be at least 16 characters').max(512),
  /** Where the agent reaches the platform (HTTP gateway). */
  gateway_url: z.url(),
  nats_url: z.string().min(1).optional(),
  /** The OCI registry the agent pulls module artifacts from (`host:port` or a URL). */
  oci_registry: z.string().min(1),
  /** PEM bundle the agent trusts for the platform's TLS, when it is not a public CA. */
  ca_pem: z.string().min(1).optional(),
  /** The agent's persistent state directory; the local driver defaults to `<sandbox>/data`. */
  data_dir: z.string().min(1).optional(),
  /** VM drivers: the kernel and initramfs to boot, and extra kernel arguments. */
  kernel: z.string().min(1).optional(),
  initramfs: z.string().min(1).optional(),
  kernel_cmdline: z.string().optional(),
  /** VM drivers: resources. */
  memory_mb: z.number().int().min(64).optional(),
  vcpus: z.number().int().min(1).optional(),
});
export type InstanceSpec = z.infer<typeof instanceSpecSchema>;

/** What `create` returns: enough to find the instance again and to show an operator where it lives. */
export interface InstanceHandle {
  instance_id: string;
  driver: string;
  /** The sandbox directory (local) or domain name (libvirt). */
  location: string;
}

/** What the driver observes: the runtime exists and runs, exists but does not run, or does not exist. */
export type DriverInstanceStatus = 'running' | 'stopped' | 'absent';

/** What `adopt` found after a provisioner restart. */
export type AdoptOutcome =
  /** The instance was still running: supervision is re-attached, nothing was restarted. */
  | { outcome: 'adopted'; instance_id: string }
  /** It should run but did not (it died while nobody watched): it was started again. */
  | { outcome: 'restarted'; instance_id: string }
  /** It was stopped on purpose and stays stopped. */
  | { outcome: 'stopped'; instance_id: string };

/** One `exec`: the command is killed at `timeoutMs`, or once `signal` aborts; its output goes to `onOutput`. */
export interface ExecOptions {
  timeoutMs: number;
  /** Each chunk of stdout or stderr as the command writes it, in order within each stream; nothing is kept. */
  onOutput: (stream: InstanceExecStream, chunk: Buffer) => void;
  /** Aborted when whoever asked has gone away: the command is killed like at its timeout, but not reported timed out. */
  signal?: AbortSignal;
  /** Called once the command runs: every refusal comes before it. */
  onStart?: () => void;
}

/** Exit code reported for a command killed at its timeout (as timeout(1) reports it). */
export const EXEC_TIMEOUT_EXIT_CODE = 124;

export interface HypervisorDriver {
  /** `local`, `libvirt`, … (recorded with each instance). */
  readonly kind: string;
  /** Prepares the instance's runtime without starting it; same spec again is a no-op, another spec is `already_exists`. */
  create(spec: InstanceSpec): Promise<InstanceHandle>;
  /** Starts the instance; starting a running instance is a no-op. `not_found` when it was never created. */
  start(instanceId: string): Promise<void>;
  /** Stops it (graceful first, forced after the grace period); stopping a stopped or absent instance is a no-op. */
  stop(instanceId: string): Promise<void>;
  /** Stops it and removes everything it had; destroying an absent instance is a no-op. */
  destroy(instanceId: string): Promise<void>;
  status(instanceId: string): Promise<DriverInstanceStatus>;
  /** Every instance this driver holds (created and not destroyed), sorted. */
  list(): Promise<string[]>;
  /** Re-attaches to an instance after a provisioner restart (see AdoptOutcome); `not_found` when absent. */
  adopt(instanceId: string): Promise<AdoptOutcome>;
  /**
   * Runs `argv` (as argv, never through a shell) inside the running instance, its root as `/`, handing its
   * output to `options.onOutput` as it comes; resolves with how it ended. `not_found` when the driver does not
   * hold the instance, `instance_not_running` when it is stopped (refusals come before any output). A command
   * that outlives `timeoutMs` is killed and reported `timed_out` with exit code 124.
   */
  exec(instanceId: string, argv: readonly string[], options: ExecOptions): Promise<InstanceExecEnd>;
  /** Lets go of supervision without stopping anything: instances outlive the provisioner. */
  close(): Promise<void>;
}

/** The spec checked against `instanceSpecSchema`, or `validation_failed` naming each bad field. */
export function parseInstanceSpec(spec: unknown): InstanceSpec {
  const parsed = instanceSpecSchema.safeParse(spec);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  throw new PowernodeError('validation_failed', `instance spec is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
    details: { issues, rule: 'instance_spec' },
  });
}

/** The instance id checked for use as a name on disk or in a hypervisor, or `validation_failed`. */
export function parseInstanceId(instanceId: string): string {
  const parsed = instanceSpecSchema.shape.instance_id.safeParse(instanceId);
  if (parsed.success) return parsed.data;
  throw new PowernodeError('validation_failed', `instance id ${JSON.stringify(instanceId)} ${parsed.error.issues[0]?.message ?? 'is invalid'}`, {
    details: { field: 'instance_id', value: instanceId, rule: 'instance_id_format' },
  });
}

/** `not_found` for an instance the driver does not hold. */
export function instanceNotCreated(driver: string, instanceId: string): PowernodeError {
  return new PowernodeError('not_found', `the ${driver} driver holds no instance ${instanceId}: create it first`, {
    details: { driver, instance_id: instanceId, rule: 'driver_instance_must_exist' },
  });
}

/** `instance_not_running` for an instance the driver holds but does not run. */
export function instanceNotRunning(driver: string, instanceId: string): PowernodeError {
  return new PowernodeError(
    'instance_not_running',
    `instance ${instanceId} is not running: start it (powernode instances start ${instanceId}) and run the command again`,
    {
      details: { driver, instance_id: instanceId, rule: 'instance_must_run' },
    },
  );
}
