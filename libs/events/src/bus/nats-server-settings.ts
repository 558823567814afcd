/**
 * The largest message (`max_payload`) of the nats-servers the platform starts itself: `npm start`, the tests'
 * private servers (`platformNatsServerConfig`), docker-compose and `.ci/run` (`docker/nats-server.conf`). NATS's
 * default of 1 MiB is less than a 1 MiB webhook body once it is base64 in an RPC (about 1.4 MiB). Against a
 * server with a smaller limit the gateway accepts only bodies that fit (`webhookBodyLimit`).
 */
export const PLATFORM_NATS_MAX_PAYLOAD = 4 * 1024 * 1024;
