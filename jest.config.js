/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  setupFiles: ['<rootDir>/__tests__/helpers/live-builtins.cjs'],
  // Writes the `jest --json` results to $FERRY_TEST_RESULTS when it is set (.ci/run).
  testResultsProcessor: '<rootDir>/__tests__/helpers/results-file.cjs',
  testTimeout: 60000,
  maxWorkers: 2,
};
