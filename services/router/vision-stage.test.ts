import { describe, expect, it } from 'vitest';
import { BusNoRespondersError, BusTimeoutError } from '../bus/index.js';
import type { WorkerRecord } from '../protocol/registry.js';
import type { pb } from '../protocol/wire.js';
import type { RouterDeps } from './router-deps.js';
import { runVisionStage } from './vision-stage.js';

function context(bus: { online?: boolean; request: () => Promise<never> }) {
  const moves: string[] = [];
  return {
    moves,
    c: {
      d: { bus, leaseMs: 1000 } as unknown as RouterDeps,
      req: { requestId: 'r1', images: [{ mmHash: 'h1', tokenCount: 4 }] } as unknown as pb.GenerateRequest,
      prefill: { id: 'p1', embRegion: {} } as unknown as WorkerRecord,
      addCall: () => undefined,
      move: (to: string) => void moves.push(to),
      legTrace: () => new (class { get = () => ['00-0-0-01'] })() as never,
      legOptions: {},
    },
  };
}

describe('vision stage without NATS', () => {
  it('leaves the images to the prefill worker when emb.reserve cannot go over the bus', async () => {
    for (const err of [new BusTimeoutError('tandem.v1.emb.reserve.p1', 5000), new BusNoRespondersError('tandem.v1.emb.reserve.p1')]) {
      const { c, moves } = context({ online: true, request: () => Promise.reject(err) });
      expect(await runVisionStage(c)).toBe('');
      expect(moves).toEqual([]);
    }
  });

  it('does not wait for a bus known to be down', async () => {
    let asked = 0;
    const { c } = context({ online: false, request: () => (asked++, Promise.reject(new Error('unreachable'))) });
    expect(await runVisionStage(c)).toBe('');
    expect(asked).toBe(0);
  });

  it('still fails on anything that is not the bus', async () => {
    const { c } = context({ online: true, request: () => Promise.reject(new TypeError('bug')) });
    await expect(runVisionStage(c)).rejects.toThrow('bug');
  });
});
