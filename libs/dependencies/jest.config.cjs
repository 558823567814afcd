module.exports = { ...require('../../jest.preset.cjs'), displayName: 'dependencies', rootDir: __dirname };
