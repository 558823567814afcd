// Runs the built worker entry (dist/validation-worker-main.js): `npm test` builds before the tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OffThreadManifestValidator } from './off-thread-validation.js';
import { validateManifestYaml } from './validate-manifest-yaml.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const realManifest = readFileSync(path.resolve(here, '../../../examples/my-redis/manifest.yaml'), 'utf8');
/** Valid YAML that takes the reader a while: long flat lists (within the nesting and size caps). */
const slowManifest = `schema_version: 1\nname: slow\nmask:\n${Array.from({ length: 4_000 }, (_, i) => `  - /var/lib/slow/${i}/**`).join('\n')}\n`;

describe('OffThreadManifestValidator', () => {
  let validator: OffThreadManifestValidator;

  afterEach(async () => {
    await validator?.close();
  });

  it('gives the same report as validating in place', async () => {
    validator = new OffThreadManifestValidator();
    expect(await validator.validate(realManifest)).toEqual(validateManifestYaml(realManifest));
    const broken = 'schema_version: 1\nname: Not A Name\n';
    expect(await validator.validate(broken)).toEqual(validateManifestYaml(broken));
  });

  it("keeps the caller's event loop turning while a manifest is read", async () => {
    validator = new OffThreadManifestValidator({ timeoutMs: 120_000 });
    let turns = 0;
    let done = false;
    const spin = (): void => {
      turns += 1;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    const before = turns;
    const report = await validator.validate(slowManifest);
    done = true;
    expect(report).toHaveProperty('valid');
    // Validating in place would have blocked every turn until it returned.
    expect(turns - before).toBeGreaterThan(10);
  });

  it('stops a validation past its budget with a specific error, and the next one gets a fresh worker', async () => {
    validator = new OffThreadManifestValidator({ timeoutMs: 1 });
    await expect(validator.validate(slowManifest)).rejects.toMatchObject({
      code: 'validation_failed',
      details: { field: 'manifest_yaml', rule: 'manifest_validation_time', limit_ms: 1 },
    });
    const relaxed = new OffThreadManifestValidator({ timeoutMs: 120_000 });
    try {
      expect((await relaxed.validate(realManifest)).valid).toBe(true);
    } finally {
      await relaxed.close();
    }
  });

  it('refuses callers beyond the queue with rate_limited instead of queueing without bound', async () => {
    validator = new OffThreadManifestValidator({ timeoutMs: 120_000, maxQueued: 1 });
    const first = validator.validate(slowManifest);
    const second = validator.validate(slowManifest);
    await expect(validator.validate(slowManifest)).rejects.toMatchObject({ code: 'rate_limited', details: { rule: 'manifest_validation_queue', limit: 1 } });
    await expect(first).resolves.toHaveProperty('valid');
    await expect(second).resolves.toHaveProperty('valid');
  });
});
