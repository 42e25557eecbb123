// Tests are compiled by `tsc` with the rest of the project and run as native ESM from
// dist/, so what is tested is exactly what ships (no second transpiler in the loop).
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  transform: {},
  testTimeout: 30000,
  maxWorkers: 2,
  verbose: false,
};
