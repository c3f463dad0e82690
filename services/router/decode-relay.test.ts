import { describe, expect, it } from 'vitest';
import type { pb } from '../protocol/wire.js';
import type { RouterDeps } from './router-deps.js';
import { storedTokens } from './decode-relay.js';
import type { SequenceLog } from './sequence-log.js';

function ctx(settled: Promise<void>, getTokens: () => Promise<number[]>) {
  const errors: string[] = [];
  return {
    errors,
    c: {
      d: { store: { getTokens }, onStoreError: (_op: string, e: Error) => errors.push(e.message) } as unknown as RouterDeps,
      req: { requestId: 'r1' } as pb.GenerateRequest,
      log: { settled: () => settled } as unknown as SequenceLog,
    },
  };
}

describe('storedTokens (what a migration resumes from)', () => {
  it('answers the stored tokens when they are what the relay streamed', async () => {
    const { c, errors } = ctx(Promise.resolve(), async () => [1, 2, 3]);
    expect(await storedTokens(c, [1, 2, 3])).toEqual([1, 2, 3]);
    expect(errors).toEqual([]);
  });

  it('goes on with the relay’s own tokens when the store does not answer (Redis down)', async () => {
    const { c, errors } = ctx(new Promise(() => undefined), async () => [1]);
    const t0 = Date.now();
    expect(await storedTokens(c, [1, 2, 3], 100)).toEqual([1, 2, 3]);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(errors).toEqual(['the store did not answer within 100 ms']);
  });

  it('goes on with the relay’s own tokens when the store lost them', async () => {
    const { c, errors } = ctx(Promise.resolve(), () => Promise.reject(new Error('sequence r1 does not exist')));
    expect(await storedTokens(c, [4, 5])).toEqual([4, 5]);
    expect(errors).toEqual(['sequence r1 does not exist']);
  });
});
