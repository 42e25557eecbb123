// Tests are compiled by `tsc` with the rest of the project and run as native ESM from
// dist/, so what is tested is exactly what ships (no second transpiler in the loop).
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  transform: {},
  // dist/bundle made again when dist/src is newer (test/helpers/fresh-bundle.ts).
  globalSetup: '<rootDir>/dist/test/helpers/fresh-bundle.js',
  testTimeout: 30000,
  maxWorkers: 2,
  verbose: false,
};
