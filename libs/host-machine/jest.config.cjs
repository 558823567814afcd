module.exports = { ...require('../../jest.preset.cjs'), displayName: 'host-machine', rootDir: __dirname };
