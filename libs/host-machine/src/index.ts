/**
 * The host this code runs on: its processes told apart from later ones that reuse their pids, files written
 * so a crash leaves the old content or the new, and the record of a machine booted on it (machine.json).
 */
export { syncDirectory, writeFileAtomically, type AtomicWriteOptions } from './durable-file.js';
export {
  currentBootId,
  findProcessesWithEnvironment,
  isProcessAlive,
  parseProcStat,
  processStartTicks,
  processStillRuns,
  readProcessIdentity,
  type ProcessIdentity,
  type ProcessStart,
  type ProcStat,
} from './process-identity.js';
export {
  MACHINE_RECORD_FILE,
  killOrphanedLeader,
  machineLeaderOf,
  machineRecordPath,
  machineRuns,
  parseMachineRecord,
  readMachineRecord,
  writeMachineRecord,
  type MachineLink,
  type MachineRecord,
} from './machine-record.js';
export { kvmUsable } from './kvm-probe.js';
