module.exports = { ...require('../../jest.preset.cjs'), displayName: 'catalog-views', rootDir: __dirname };
