/**
 * Hypervisor drivers: the port (hypervisor-driver.ts) and its adapters. `local` runs an instance as a sandbox
 * directory plus a supervised agent process; `nspawn` and `qemu` run it as a machine booted by a keeper. Every adapter
 * passes the contract suite in apps/provisioner/test/drivers/driver-contract.ts.
 */
export {
  EXEC_TIMEOUT_EXIT_CODE,
  instanceNotCreated,
  instanceNotRunning,
  instanceSpecSchema,
  parseInstanceId,
  parseInstanceSpec,
  type AdoptOutcome,
  type DriverInstanceStatus,
  type ExecOptions,
  type HypervisorDriver,
  type InstanceHandle,
  type InstanceSpec,
} from './hypervisor-driver.js';
export { DEFAULT_INHERITED_ENV, LOCAL_AGENT_ENV, LocalDriver, type LocalDriverEvent, type LocalDriverOptions } from './local-driver.js';
export { NspawnDriver, nspawnUsable } from './nspawn-driver.js';
export { QemuDriver, qemuUsable, streamExec, type ConsoleChunk } from './qemu-driver.js';
