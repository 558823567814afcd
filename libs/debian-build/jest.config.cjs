module.exports = { ...require('../../jest.preset.cjs'), displayName: 'debian-build', rootDir: __dirname };
