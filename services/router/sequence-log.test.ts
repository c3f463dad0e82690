import { describe, expect, it } from 'vitest';
import { MemorySequenceStore, type SequenceRequest, type SequenceStore } from '../state/index.js';
import { SequenceLog } from './sequence-log.js';

/** A store whose backing data can be lost at once, as a Redis restarted without its data. */
function losableStore(): { store: SequenceStore; lose(): void } {
  let current = new MemorySequenceStore();
  const store = new Proxy({} as SequenceStore, {
    get: (_t, prop) => {
      const v = Reflect.get(current, prop, current) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(current) : v;
    },
  });
  return { store, lose: () => (current = new MemorySequenceStore()) };
}

const request: SequenceRequest = {
  promptTokenIds: [1, 2, 3],
  sampling: { temperature: 0, topP: 1, topK: -1, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, seed: 7, maxTokens: 8, stopTokenIds: [], ignoreEos: false, logprobs: 0 },
  eosTokenIds: [0],
};
const init = { promptTokens: 3, deadlineMs: Date.now() + 60_000, request };

describe('SequenceLog', () => {
  it('writes a record the store lost again: create, moves with their times, checkpoints', async () => {
    const { store, lose } = losableStore();
    const errors: string[] = [];
    let rebuilt = 0;
    const log = new SequenceLog(store, 's1', (op, e) => errors.push(`${op}: ${e.message}`), 'queued', () => rebuilt++);
    log.create(init);
    log.move('prefilling', { workers: { prefill: 'p', decode: 'd' } });
    log.move('transferring');
    log.move('decoding');
    log.checkpoint(0, [5, 6, 7]);
    await log.settled();
    const before = (await store.get('s1'))!;
    lose();
    log.checkpoint(3, [8]);
    log.move('finished', { generatedTokens: 4 });
    await log.settled();
    expect(errors).toEqual([]);
    expect(rebuilt).toBe(1);
    const after = (await store.get('s1'))!;
    expect(after.state).toBe('finished');
    expect(after.history).toEqual(['queued', 'prefilling', 'transferring', 'decoding', 'finished']);
    expect(after.workers).toEqual(before.workers);
    expect(after.stateTimes.prefilling).toBe(before.stateTimes.prefilling);
    expect(await store.getTokens('s1')).toEqual([5, 6, 7, 8]);
    expect((await store.snapshot('s1'))!.request).toEqual(request);
  });

  it('reports what it cannot write again (no create to replay: a resumed sequence)', async () => {
    const { store } = losableStore();
    const errors: string[] = [];
    const log = new SequenceLog(store, 's2', (op, e) => errors.push(`${op}: ${e.name}`), 'prefilling');
    log.move('decoding');
    await log.settled();
    expect(errors).toEqual(['prefilling→decoding: SequenceNotFoundError']);
  });
});
