module.exports = { ...require('../../jest.preset.cjs'), displayName: 'fsverity', rootDir: __dirname };
