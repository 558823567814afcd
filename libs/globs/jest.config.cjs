module.exports = { ...require('../../jest.preset.cjs'), displayName: 'globs', rootDir: __dirname };
