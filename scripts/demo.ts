/**
 * `npm run demo`: Tutorial 02 ("Your first custom module") scripted against a running platform (`npm start`).
 *
 * The example module examples/my-redis is validated, registered, published with dev signing through the real
 * webhook, ingested, promoted staging → blessed → live (the live promotion approved by a second token),
 * assigned to template `base`; a node is created and an instance provisioned, the demo waits until its
 * `running_module_digests` shows my-redis, prints the drift report, then terminates the instance, unassigns
 * the module and deletes it. Its dependencies (powernode-base-ruby, security-hardening and, through
 * security-hardening, system-base) are published and promoted to live first when no live 1.x version of them
 * exists yet, as the seeded catalog of the tutorial's prerequisites would hold them; they stay in the catalog.
 *
 * Every call is printed as the tutorial writes it (`platform.system_…({…})`) followed by its result. With
 * `--json`, each step is one JSON line instead: `{step, tool, args, result}` or `{step, command, result}`.
 *
 * Environment: POWERNODE_URL (default http://127.0.0.1:8080), POWERNODE_TOKEN (default: the contents of
 * `<POWERNODE_DATA_DIR>/admin-token`), POWERNODE_DATA_DIR (default ./.data; the CLI signs with the dev
 * Sigstore there, which the platform's ingest trusts), OCI_REGISTRY (default 127.0.0.1:5000).
 * Runs again without cleanup in between: every run publishes a new tag.
 *
 * The steps live in scripts/demo/, where the end-to-end tests and the benchmarks take them from.
 */
import { jsonNarrator, textNarrator } from './demo/narration.js';
import { demoTarget } from './demo/target.js';
import { runDemo } from './demo/tutorial.js';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const narrator = json ? jsonNarrator() : textNarrator();
  try {
    const outcome = await runDemo(demoTarget(), narrator);
    const ping = outcome.on_instance['redis-cli ping']?.stdout;
    const checked = ping === undefined ? '' : ` (redis-cli ping on the instance answered ${ping})`;
    if (!json)
      process.stdout.write(
        `\nDone: my-redis ${outcome.version.version_string} ran on instance ${outcome.instance_id} without drift${checked}, and was cleaned up.\n`,
      );
  } catch (error) {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

await main();
