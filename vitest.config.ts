import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['services/**/*.test.ts', 'kernels/**/*.test.ts', 'tools/**/*.test.ts', 'test/**/*.test.ts'],
    // Native kernels use their own thread pool; forks keep each test file's addon state apart.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
