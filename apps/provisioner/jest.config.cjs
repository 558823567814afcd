module.exports = { ...require('../../jest.preset.cjs'), displayName: 'provisioner', rootDir: __dirname };
