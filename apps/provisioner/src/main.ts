import 'reflect-metadata';
import { isPowernodeError } from '@powernode/contracts';
import { startServiceHost } from '@powernode/runtime';
import { provisionerConfigShape, startProvisioner } from './start-provisioner.js';

const host = await startServiceHost({ service: 'provisioner', shape: provisionerConfigShape });
try {
  await startProvisioner(host);
} catch (error) {
  // Settings only checked while wiring the driver (e.g. the agent command) are configuration errors too.
  if (!(isPowernodeError(error) && error.code === 'config_invalid')) throw error;
  process.stderr.write(`provisioner: configuration error: ${error.message}\n`);
  process.exit(1);
}
