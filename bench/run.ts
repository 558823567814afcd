/**
 * `npm run bench`: every benchmark, each printing its figures next to a baseline measured in the same run.
 * `npm run bench -- <name>…` runs only the named ones.
 */
import { benchBus } from './bus.bench.js';
import { benchChaos } from './chaos.bench.js';
import { benchCatalog } from './catalog.bench.js';
import { benchCli } from './cli.bench.js';
import { benchEventStore } from './event-store.bench.js';
import { benchFsverity } from './fsverity.bench.js';
import { benchMachines } from './machines.bench.js';
import { benchProjectionFold } from './projection-fold.bench.js';
import { benchProvisioning } from './provisioning.bench.js';
import { benchRelayFailover } from './relay-failover.bench.js';
import { benchQemu } from './qemu.bench.js';
import { benchSupplyChain } from './supply-chain.bench.js';
import { benchUi } from './ui.bench.js';

const benches: Record<string, (report: (line: string) => void) => Promise<void>> = {
  'event-store': benchEventStore,
  bus: benchBus,
  'relay-failover': benchRelayFailover,
  chaos: benchChaos,
  fsverity: benchFsverity,
  'projection-fold': benchProjectionFold,
  catalog: benchCatalog,
  'supply-chain': benchSupplyChain,
  provisioning: benchProvisioning,
  machines: benchMachines,
  qemu: benchQemu,
  cli: benchCli,
  ui: benchUi,
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in benches));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}
for (const [name, bench] of Object.entries(benches)) {
  if (wanted.length && !wanted.includes(name)) continue;
  process.stdout.write(`\n## ${name}\n`);
  const started = performance.now();
  await bench((line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
process.exit(0);
