module.exports = { ...require('../../jest.preset.cjs'), displayName: 'manifest', rootDir: __dirname };
