// Catalog projection folds, in memory: 100,000 synthetic catalog events (1,000 ModuleRegistered, 10,000
// ModuleVersionBuilt, the rest ModuleVersionPromoted back and forth between built and staging) folded into each
// catalog read model from its initial state. Baseline: a fold over the same events that only counts them, so
// the figures show what each projection's `evolve` costs on top of walking the log. A replay must stay linear
// in the number of events: the whole fold of one read model is expected to take well under a few seconds.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { moduleVersionIdFor, type CatalogEvent, type CatalogEventOf } from '@powernode/contracts';
import { foldEvents } from '@powernode/events';
// The projections are the catalog's pure folds, from the lib the catalog and the gateway share.
import {
  approvalsProjection,
  modulesProjection,
  templatesProjection,
  versionsProjection,
  webhookRoutesProjection,
  type CatalogProjection,
} from '@powernode/catalog-views';

const MODULES = 1000;
const VERSIONS_PER_MODULE = 10;
const TOTAL_EVENTS = 100_000;
const ROUNDS = 3;
/** A full fold of one read model over TOTAL_EVENTS must stay under this (a replay is linear in the log). */
const TARGET_SECONDS = 2;
const AT = '2026-05-01T10:00:00.000Z';
const hex = (n: number, c: string) => `sha256:${(c + n.toString(16)).padEnd(64, '0').slice(0, 64)}`;

interface BenchModule {
  id: string;
  name: string;
}

function registered(m: BenchModule, i: number): CatalogEventOf<'ModuleRegistered'> {
  return {
    type: 'ModuleRegistered',
    data: {
      module_id: m.id,
      name: m.name,
      display_name: m.name,
      description: '',
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: `bench/${m.name}`,
      cosign_identity_regexp: '.*',
      cosign_issuer_regexp: '.*',
      approval_policy: 'auto_approve',
      spec: { mask: [], file_spec: [], package_spec: [], dependency_spec: [], protected_spec: [], requires: [], provides: [], priority: i % 1000 },
      spec_seeded: false,
      manifest_yaml: null,
      webhook_secret: { algorithm: 'aes-256-gcm', key_id: 'bench', ciphertext: 'Y2lwaGVydGV4dA==' },
      registered_at: AT,
    },
  };
}

function built(m: BenchModule, v: number): CatalogEventOf<'ModuleVersionBuilt'> {
  const tag = `v1.0.${v}`;
  return {
    type: 'ModuleVersionBuilt',
    data: {
      version_id: moduleVersionIdFor(m.id, tag),
      module_id: m.id,
      module_name: m.name,
      version_string: tag.slice(1),
      tag,
      oci_ref: `127.0.0.1:5000/bench/${m.name}:${tag}`,
      oci_digest: hex(v, 'a'),
      composefs_digest: hex(v, 'b'),
      fsverity_root_hash: hex(v, 'c'),
      cosign_verified: true,
      signer_identity: 'bench',
      signer_issuer: 'bench',
      sbom_summary: null,
      manifest: { schema_version: 1, name: m.name, dependencies: { requires: [], provides: [] } },
      built_at: AT,
    },
  };
}

/** The synthetic log: registrations, then builds, then promotions cycling over every version staging ↔ built. */
export function syntheticCatalogLog(total = TOTAL_EVENTS): CatalogEvent[] {
  const modules: BenchModule[] = Array.from({ length: MODULES }, (_, i) => ({
    id: `0195f0a0-0000-7000-8000-${i.toString(16).padStart(12, '0')}`,
    name: `bench-mod-${i}`,
  }));
  const events: CatalogEvent[] = modules.map(registered);
  const builds = modules.flatMap((m) => Array.from({ length: VERSIONS_PER_MODULE }, (_, v) => built(m, v)));
  events.push(...builds);
  const promotions = total - events.length;
  for (let i = 0; i < promotions; i++) {
    const b = builds[i % builds.length]!.data;
    // Each version's first pass goes built → staging, its second staging → built, and so on.
    const toStaging = Math.floor(i / builds.length) % 2 === 0;
    events.push({
      type: 'ModuleVersionPromoted',
      data: {
        version_id: b.version_id,
        module_id: b.module_id,
        module_name: b.module_name,
        version_string: b.version_string,
        from: toStaging ? 'built' : 'staging',
        to: toStaging ? 'staging' : 'built',
        promoted_by: 'bench',
        approval_id: null,
        promoted_at: AT,
      },
    });
  }
  return events;
}

/** Only counts events: the cost of walking the log, which every projection pays too. */
const countingFold: CatalogProjection<{ events: number }> = {
  name: 'bench-count',
  version: 1,
  initialState: () => ({ events: 0 }),
  evolve(state) {
    state.events += 1;
    return state;
  },
};

/**
 * Best wall time over ROUNDS folds from a fresh initial state, after one untimed fold that lets the JIT settle,
 * so neither warm-up nor scheduler noise decides the figure.
 */
function bestFoldSeconds<S>(projection: CatalogProjection<S>, events: readonly CatalogEvent[]): number {
  foldEvents(projection, events);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    foldEvents(projection, events);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e9);
  }
  return best;
}

/** Folds the synthetic log into every catalog read model; reports seconds and events/s next to the counting baseline. */
export async function benchProjectionFold(report: (line: string) => void): Promise<void> {
  const events = syntheticCatalogLog();
  report(
    `${events.length} events in memory: ${MODULES} ModuleRegistered, ${MODULES * VERSIONS_PER_MODULE} ModuleVersionBuilt, ${events.length - MODULES * (VERSIONS_PER_MODULE + 1)} ModuleVersionPromoted (best of ${ROUNDS} folds each, after a warm-up fold)`,
  );
  const line = (label: string, seconds: number) => `${label}: ${(seconds * 1000).toFixed(1)} ms (${(events.length / seconds).toFixed(0)} events/s)`;
  const baseline = bestFoldSeconds(countingFold, events);
  report(line('baseline (count only)', baseline));
  const projections = [
    modulesProjection,
    webhookRoutesProjection,
    versionsProjection,
    templatesProjection,
    approvalsProjection,
  ] as CatalogProjection<unknown>[];
  let total = 0;
  for (const projection of projections) {
    const seconds = bestFoldSeconds(projection, events);
    total += seconds;
    report(
      `${line(projection.name, seconds)}, ratio to baseline ${(seconds / baseline).toFixed(1)} — target < ${TARGET_SECONDS} s: ${seconds < TARGET_SECONDS ? 'OK' : 'ABOVE TARGET'}`,
    );
  }
  report(line('all 5 catalog read models', total));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchProjectionFold((line) => console.log(line));
}
