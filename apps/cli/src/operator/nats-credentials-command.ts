import path from 'node:path';
import type { Command } from 'commander';
import { busNames, NATS_USERS } from '@powernode/events';
import { baseConfigShape, ensureNatsCredentials, parseConfig } from '@powernode/runtime';

/**
 * `powernode nats-credentials --dir DIR`: the platform's NATS users for a deployment that runs its own
 * nats-server (docker-compose): a password file per user, kept when present, and the server configuration for
 * this bus namespace and relay host, all mode 0600. `npm start` does the same for the server it starts.
 */
export function registerNatsCredentialsCommand(program: Command): void {
  program
    .command('nats-credentials')
    .description("write the platform's NATS users (a password file each) and nats-server's configuration with their permissions")
    .requiredOption('--dir <dir>', 'where to keep them: <dir>/nats-server.conf and <dir>/<user>.password')
    .action((o: { dir: string }) => {
      const config = parseConfig(baseConfigShape);
      const files = ensureNatsCredentials(path.resolve(o.dir), { bus: busNames(config.POWERNODE_BUS_NAMESPACE), relay_host: config.POWERNODE_RELAY_HOST });
      process.stdout.write(`nats-server configuration: ${files.config_file}\n`);
      for (const user of NATS_USERS) process.stdout.write(`NATS_USER=${user} NATS_PASSWORD_FILE=${files.passwordFile(user)}\n`);
    });
}
