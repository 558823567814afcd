/**
 * The largest message (`max_payload`) of the nats-servers the platform starts itself: `npm start`, the tests'
 * private servers, and, in their own syntax, `docker/nats-server.conf` (docker-compose, `.ci/run`). NATS's
 * default of 1 MiB is less than a 1 MiB webhook body once it is base64 in an RPC (about 1.4 MiB). Against a
 * server with a smaller limit the gateway accepts only bodies that fit (`webhookBodyLimit`).
 */
export const PLATFORM_NATS_MAX_PAYLOAD = 4 * 1024 * 1024;

/** The configuration file (`nats-server -c`) of the nats-servers the platform starts itself. */
export function platformNatsServerConfig(): string {
  return `# Written by powernode. max_payload: a 1 MiB webhook body, base64 in an RPC, must fit in one message.\nmax_payload: ${PLATFORM_NATS_MAX_PAYLOAD}\n`;
}
