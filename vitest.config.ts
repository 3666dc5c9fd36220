import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration and end-to-end tests start real libp2p peers and processes; on 2 cores
    // running too many files at once only makes each of them slower.
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // .ci/run sets VITEST_JSON_REPORT to read the counts; people get the usual summary only.
    reporters: process.env.VITEST_JSON_REPORT === undefined ? ['default'] : ['default', 'json'],
    outputFile: process.env.VITEST_JSON_REPORT === undefined ? undefined : { json: process.env.VITEST_JSON_REPORT }
  }
})
