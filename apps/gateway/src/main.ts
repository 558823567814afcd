import 'reflect-metadata';
import { gatewayConfigShape, startServiceHost } from '@powernode/runtime';
import { startGateway } from './start-gateway.js';

const host = await startServiceHost({ service: 'gateway', shape: gatewayConfigShape });
await startGateway(host);
