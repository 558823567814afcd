module.exports = { ...require('../../jest.preset.cjs'), displayName: 'event-core', rootDir: __dirname };
