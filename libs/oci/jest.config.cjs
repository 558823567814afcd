module.exports = { ...require('../../jest.preset.cjs'), displayName: 'oci', rootDir: __dirname };
