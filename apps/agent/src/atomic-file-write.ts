/** The durable file writes live in @powernode/host-machine; this name stays for the modules that import it here. */
export { syncDirectory, writeFileAtomically } from '@powernode/host-machine';
