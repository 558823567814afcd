// Shared jest settings: TypeScript through swc, native ESM (NestJS 12 is ESM-only).
const path = require('node:path');
const fs = require('node:fs');

const root = __dirname;
const libs = fs.readdirSync(path.join(root, 'libs')).filter((d) => fs.existsSync(path.join(root, 'libs', d, 'src', 'index.ts')));
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };
for (const lib of libs) moduleNameMapper[`^@powernode/${lib}$`] = path.join(root, 'libs', lib, 'src', 'index.ts');
// Entry points besides the index (package.json `exports`, e.g. @powernode/contracts/errors): their source file.
moduleNameMapper['^@powernode/([^/]+)/([^/]+)$'] = path.join(root, 'libs', '$1', 'src', '$2.ts');

module.exports = {
  testEnvironment: path.join(root, 'jest.environment.cjs'),
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  moduleNameMapper,
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  testTimeout: 60000,
};
