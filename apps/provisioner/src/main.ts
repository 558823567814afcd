import 'reflect-metadata';
import { startServiceHost } from '@powernode/runtime';
import { provisionerConfigShape, startProvisioner } from './start-provisioner.js';

const host = await startServiceHost({ service: 'provisioner', shape: provisionerConfigShape });
await startProvisioner(host);
