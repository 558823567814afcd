// The test tiers, as globs relative to the repository root. A file listed in no tier is a unit test, so a new
// spec runs somewhere whatever its tier; listing it where it belongs only decides how fast, and beside what.
//
// unit         pure and in-process: deciders, projections, parsers, read models; temp files at most. One
//              jest worker is enough, and it needs no service.
// integration  talks to a server (NATS at NATS_URL, PostgreSQL at PG_URL, a registry) or spawns processes
//              (the services, the CLI, agents, fsverity, rsync, tar). Mostly waiting, so several jest workers
//              share the cores; every such test takes unique names and its own bus namespace, and lets the servers
//              it starts bind port 0 and say which port they got (never a port picked free beforehand, which
//              another worker's socket could take first).
// e2e          runs the whole supply chain or isolates real commands; heavy on its own, so one file at a time.
// machines     boots real machines (systemd-nspawn, QEMU): the heaviest tier, on its own after e2e.
// browser      drives the web UI in a real Chromium, on its own last.
const machines = [
  'apps/provisioner/test/e2e/machine-instances.spec.ts',
  'apps/provisioner/test/e2e/qemu-instances.spec.ts',
  'apps/provisioner/test/drivers/qemu-driver.spec.ts',
];

const browser = ['apps/web/test/**/*.e2e.spec.ts'];

const e2e = [
  'apps/provisioner/test/e2e/**/*.spec.ts',
  '**/*.e2e.spec.ts',
  'apps/agent/test/init-isolation.spec.ts',
  'libs/debian-build/src/module-packages.spec.ts',
];

const integration = [
  'apps/agent/test/agent-artifact-cache.spec.ts',
  'apps/agent/test/agent-reconcile.spec.ts',
  'apps/agent/test/agent-resilience.spec.ts',
  'apps/agent/test/agent-shutdown.spec.ts',
  'apps/agent/test/gateway-client.spec.ts',
  'apps/agent/test/machine-keeper.spec.ts',
  'apps/agent/test/root-composition.spec.ts',
  'apps/catalog/test/relay-on-nats-cluster.spec.ts',
  'apps/cli/test/audit-sink.spec.ts',
  'apps/cli/test/dev-stack.spec.ts',
  'apps/cli/test/digest-command.spec.ts',
  'apps/cli/test/module-build-push.spec.ts',
  'apps/cli/test/module-init-validate.spec.ts',
  'apps/cli/test/module-sign-publish.spec.ts',
  'apps/cli/test/nats-permissions.spec.ts',
  'apps/cli/test/operator-commands.spec.ts',
  'apps/cli/test/verify-blob-command.spec.ts',
  'apps/gateway/test/catalog-api.spec.ts',
  'apps/gateway/test/event-stream.spec.ts',
  'apps/gateway/test/gateway-workers.spec.ts',
  'apps/gateway/test/webhook-body-size.spec.ts',
  'apps/gateway/test/webhook.spec.ts',
  'apps/ingest/test/ingest-crash.spec.ts',
  'apps/ingest/test/ingest-pipeline.spec.ts',
  'apps/ingest/test/ingest-registry-policy.spec.ts',
  'apps/ingest/test/ingest-rules.spec.ts',
  'apps/provisioner/test/drivers/local-driver.spec.ts',
  'apps/provisioner/test/drivers/nspawn-host-limits.spec.ts',
  'apps/provisioner/test/instance-exec-api.spec.ts',
  'apps/provisioner/test/instance-reconciler.spec.ts',
  'apps/provisioner/test/provisioner-api.spec.ts',
  'apps/provisioner/test/provisioner-restart.spec.ts',
  'apps/provisioner/test/real-agent.spec.ts',
  'apps/provisioner/test/provisioner-hosts.spec.ts',
  'libs/artifact/src/module-artifact-build.spec.ts',
  'libs/artifact/src/module-artifact.registry.spec.ts',
  'libs/artifact/src/tar.spec.ts',
  'libs/contracts/src/manifest/manifest-schema.spec.ts',
  'libs/debian-build/src/base-recipe.spec.ts',
  'libs/debian-build/src/upper-filter.spec.ts',
  'libs/events/test/bus/durable-consumer.spec.ts',
  'libs/events/test/bus/event-relay.spec.ts',
  'libs/events/test/bus/event-stream.spec.ts',
  'libs/events/test/bus/jetstream-lease.spec.ts',
  'libs/events/test/bus/relay-crash.spec.ts',
  'libs/events/test/bus/rpc-stream.spec.ts',
  'libs/events/test/bus/rpc.spec.ts',
  'libs/events/test/store/kurrent-event-store.spec.ts',
  'libs/events/test/store/open-event-store.spec.ts',
  'libs/events/test/store/postgres-event-store-server.spec.ts',
  'libs/events/test/store/postgres-event-store.spec.ts',
  'libs/events/test/store/sqlite-event-store.spec.ts',
  'libs/fsverity/src/fsverity.spec.ts',
  'libs/globs/src/rsync-oracle.spec.ts',
  'libs/host-machine/src/process-exit.spec.ts',
  'libs/manifest/src/validate-module-dir.spec.ts',
  'libs/oci/src/oci-client.auth.spec.ts',
  'libs/oci/src/oci-client.registry.spec.ts',
  'libs/oci/src/oci-client.resilience.spec.ts',
  'libs/oci/src/registry-hops.spec.ts',
  'libs/sigstore/src/dev-sigstore.spec.ts',
  'libs/testing/src/loopback-port.spec.ts',
];

const TIERS = ['unit', 'integration', 'e2e', 'machines', 'browser'];

/**
 * The jest `testMatch` of one project in one tier: its usual globs narrowed to the tier's files. Later
 * negated globs win, so e2e files stay out of integration even when both lists would match.
 */
function tierTestMatch(tier, root, projectTestMatch) {
  const abs = (globs) => globs.map((g) => `${root}/${g}`);
  const not = (globs) => abs(globs).map((g) => `!${g}`);
  switch (tier) {
    case 'unit':
      return [...projectTestMatch, ...not(integration), ...not(e2e), ...not(machines), ...not(browser)];
    case 'integration':
      return [...abs(integration), ...not(e2e), ...not(machines), ...not(browser)];
    case 'e2e':
      return [...abs(e2e), ...not(machines), ...not(browser)];
    case 'machines':
      return abs(machines);
    case 'browser':
      return abs(browser);
    default:
      throw new Error(`unknown test tier "${tier}": ${TIERS.join(', ')}`);
  }
}

module.exports = { TIERS, tierTestMatch, e2e, integration, machines, browser };
