module.exports = { ...require('../../jest.preset.cjs'), displayName: 'sigstore', rootDir: __dirname };
