// Every project's jest config, run as one suite by `npm test`; POWERNODE_TEST_TIER narrows every project to
// one tier's files (test-tiers.cjs), which is how `scripts/test.mjs --tier` runs the tiers side by side.
const fs = require('node:fs');
const path = require('node:path');
const { tierTestMatch } = require('./test-tiers.cjs');

const tier = process.env.POWERNODE_TEST_TIER || undefined;
const projects = [];
for (const group of ['apps', 'libs']) {
  for (const name of fs.readdirSync(path.join(__dirname, group))) {
    const cfg = path.join(__dirname, group, name, 'jest.config.cjs');
    if (!fs.existsSync(cfg)) continue;
    if (tier === undefined) {
      projects.push(cfg);
      continue;
    }
    const project = require(cfg);
    const testMatch = project.testMatch.map((g) => g.replace('<rootDir>', project.rootDir));
    projects.push({ ...project, testMatch: tierTestMatch(tier, __dirname, testMatch) });
  }
}
// testTimeout is a global option: projects mode ignores it in the per-project preset.
module.exports = { projects, testTimeout: 60000 };
