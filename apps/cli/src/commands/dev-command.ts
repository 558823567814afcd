import type { Command } from 'commander';
import { startDevStack } from '../dev/dev-stack.js';

/** `powernode dev` (what `npm start` runs): the whole platform on this machine until Ctrl-C. */
export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('start the whole platform on this machine (NATS, registry, all services); Ctrl-C stops what it started')
    .action(async () => {
      let stack;
      try {
        stack = await startDevStack();
      } catch (error) {
        process.stderr.write(`powernode: ${(error as Error).message}\n`);
        process.exit(1);
      }
      process.stdout.write(
        [
          '',
          `Powernode is up: ${stack.gatewayUrl}`,
          `  REST   ${stack.gatewayUrl}/api/v1/system   (OpenAPI: ${stack.gatewayUrl}/api/docs)`,
          `  MCP    ${stack.gatewayUrl}/mcp`,
          stack.adminTokenFile ? `  admin token: ${stack.adminTokenFile}` : '  admin token: the value of POWERNODE_ADMIN_TOKEN',
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
      let stopping = false;
      const stop = async (code: number) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write('\nstopping…\n');
        await stack.stop();
        process.exit(code);
      };
      process.on('SIGINT', () => void stop(0));
      process.on('SIGTERM', () => void stop(0));
      const crashed = await stack.crashed;
      process.stderr.write(`powernode: ${crashed} stopped unexpectedly; shutting the stack down\n`);
      await stop(1);
    });
}
