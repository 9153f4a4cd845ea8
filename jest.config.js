/** Jest runs the TypeScript sources through SWC (no type-check: `npm run typecheck` does that).
 * jose and ulid ship ESM only, so they are transformed too. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|ulid)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testTimeout: 30000,
  setupFiles: ['<rootDir>/test/support/env.js'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
