// Every project's jest config, run as one suite by `npm test`.
const fs = require('node:fs');
const path = require('node:path');
const projects = [];
for (const group of ['apps', 'libs']) {
  for (const name of fs.readdirSync(path.join(__dirname, group))) {
    const cfg = path.join(__dirname, group, name, 'jest.config.cjs');
    if (fs.existsSync(cfg)) projects.push(cfg);
  }
}
// testTimeout is a global option: projects mode ignores it in the per-project preset.
module.exports = { projects, testTimeout: 60000 };
