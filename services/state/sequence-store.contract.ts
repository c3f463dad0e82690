/**
 * The one behavioural contract of SequenceStore, run against every implementation
 * (memory-store.test.ts, redis-store.test.ts). Anything a caller may rely on is asserted here,
 * so the two backends are interchangeable.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DuplicateSequenceError,
  IllegalTransitionError,
  SequenceNotActiveError,
  SequenceNotFoundError,
  TokenCheckpointError,
} from './errors.js';
import {
  SEQUENCE_STATES,
  TERMINAL_STATES,
  TRANSITIONS,
  isLegalTransition,
  isTerminalState,
  type SequenceState,
} from './transitions.js';
import { DEFAULT_TERMINAL_TTL_MS, type SequenceRequest, type SequenceStore, type TransitionPatch } from './types.js';

export interface ContractHarness {
  store: SequenceStore;
  /** Another client over the same state (Redis: a second connection; memory: the same store). */
  openPeer(): Promise<SequenceStore>;
  /** Remaining lifetime of the record in ms; null while it has none; undefined if it does not exist. */
  recordTtlMs(id: string): Promise<number | null | undefined>;
  /** Closes everything opened and removes whatever the test stored. */
  cleanup(): Promise<void>;
}

export type ContractFactory = (options: { terminalTtlMs?: number }) => Promise<ContractHarness>;

type Move = readonly [from: SequenceState, to: SequenceState];

/** Shortest legal path from `queued` to every state (BFS over the transition table). */
function shortestPaths(): Map<SequenceState, Move[]> {
  const paths = new Map<SequenceState, Move[]>([['queued', []]]);
  const queue: SequenceState[] = ['queued'];
  while (queue.length > 0) {
    const from = queue.shift()!;
    for (const to of Object.keys(TRANSITIONS[from]) as SequenceState[]) {
      if (paths.has(to)) continue;
      paths.set(to, [...paths.get(from)!, [from, to]]);
      queue.push(to);
    }
  }
  return paths;
}

const PATHS = shortestPaths();
const T0 = 1_700_000_000_000;

/** A request as the router stores it: prompt, pinned seed, stop/EOS ids, max tokens. */
function sampleRequest(overrides: Partial<SequenceRequest> = {}): SequenceRequest {
  return {
    promptTokenIds: [1, 17, 100_295, 0xffff_ffff, 0],
    sampling: {
      temperature: 0.7,
      topP: 0.9,
      topK: 40,
      minP: 0,
      presencePenalty: 0.5,
      frequencyPenalty: -0.25,
      repetitionPenalty: 1.1,
      seed: 0xffff_ffff,
      maxTokens: 48,
      stopTokenIds: [2, 3],
      ignoreEos: false,
      logprobs: 0,
    },
    eosTokenIds: [2, 100_272],
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject, it resolved');
}

export function runSequenceStoreContract(name: string, factory: ContractFactory): void {
  describe(`SequenceStore contract: ${name}`, () => {
    let h: ContractHarness;
    let store: SequenceStore;
    const extra: ContractHarness[] = [];

    beforeEach(async () => {
      h = await factory({});
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
      for (const x of extra.splice(0)) await x.cleanup();
    });

    /** Creates `id` and drives it to `state` along the shortest legal path. */
    async function createIn(id: string, state: SequenceState, deadlineMs = T0 + 60_000): Promise<void> {
      await store.create({ id, promptTokens: 10, deadlineMs, nowMs: T0 });
      let t = T0;
      for (const [from, to] of PATHS.get(state)!) await store.transition(id, from, to, { nowMs: ++t });
    }

    it('reaches every state from queued (test precondition)', () => {
      expect([...PATHS.keys()].sort()).toEqual([...SEQUENCE_STATES].sort());
    });

    describe('create and get', () => {
      it('creates a queued record with attempt 1 and returns what get() returns', async () => {
        const created = await store.create({ id: 'c1', promptTokens: 42, deadlineMs: T0 + 5000, nowMs: T0 });
        expect(created).toEqual({
          id: 'c1',
          state: 'queued',
          attempt: 1,
          createdAtMs: T0,
          updatedAtMs: T0,
          deadlineMs: T0 + 5000,
          stateTimes: { queued: T0 },
          workers: {},
          promptTokens: 42,
          generatedTokens: 0,
          history: ['queued'],
        });
        expect(await store.get('c1')).toEqual(created);
        expect(await store.getTokens('c1')).toEqual([]);
        expect(await h.recordTtlMs('c1')).toBeNull();
      });

      it('defaults nowMs to the wall clock', async () => {
        const before = Date.now();
        const r = await store.create({ id: 'c2', promptTokens: 1, deadlineMs: before + 1000 });
        expect(r.createdAtMs).toBeGreaterThanOrEqual(before);
        expect(r.createdAtMs).toBeLessThanOrEqual(Date.now());
      });

      it('get() of an unknown id is undefined', async () => {
        expect(await store.get('nope')).toBeUndefined();
      });

      it('refuses a duplicate id and leaves the original untouched', async () => {
        await createIn('d1', 'prefilling');
        const before = await store.get('d1');
        const err = await rejection(store.create({ id: 'd1', promptTokens: 99, deadlineMs: T0 }));
        expect(err).toBeInstanceOf(DuplicateSequenceError);
        expect((err as Error).message).toContain('d1');
        expect(await store.get('d1')).toEqual(before);
      });

      it('refuses a duplicate of a terminal record that has not expired yet', async () => {
        await createIn('d2', 'finished');
        await expect(store.create({ id: 'd2', promptTokens: 1, deadlineMs: T0 })).rejects.toBeInstanceOf(DuplicateSequenceError);
      });

      it('exactly one of 20 concurrent creates of the same id wins', async () => {
        const peers = [store, ...(await Promise.all([1, 2, 3].map(() => h.openPeer())))];
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => peers[i % peers.length]!.create({ id: 'race-create', promptTokens: i, deadlineMs: T0 })),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DuplicateSequenceError);
        const winner = (won[0] as PromiseFulfilledResult<{ promptTokens: number }>).value;
        expect((await store.get('race-create'))!.promptTokens).toBe(winner.promptTokens);
      });

      it('refuses malformed ids and arguments', async () => {
        for (const id of ['', 'a:b', 'a b', 'active', 'x\n', 'y'.repeat(257)]) {
          await expect(store.create({ id, promptTokens: 1, deadlineMs: T0 })).rejects.toBeInstanceOf(TypeError);
        }
        await expect(store.create({ id: 'ok', promptTokens: -1, deadlineMs: T0 })).rejects.toBeInstanceOf(RangeError);
        await expect(store.create({ id: 'ok', promptTokens: 1, deadlineMs: Number.NaN })).rejects.toBeInstanceOf(RangeError);
        await store.create({ id: 'ok', promptTokens: 1, deadlineMs: T0 });
        await expect(store.transition('ok', 'queued', 'bogus' as SequenceState)).rejects.toBeInstanceOf(TypeError);
        await expect(store.transition('ok', 'queued', 'prefilling', { generatedTokens: 1.5 })).rejects.toBeInstanceOf(RangeError);
        await expect(
          store.transition('ok', 'queued', 'prefilling', { workers: { gpu: 'w' } as unknown as Record<'prefill', string> }),
        ).rejects.toBeInstanceOf(TypeError);
        expect((await store.get('ok'))!.state).toBe('queued');
      });

      it('returns snapshots: mutating a returned record changes nothing stored', async () => {
        const r = await store.create({ id: 's1', promptTokens: 1, deadlineMs: T0, nowMs: T0 });
        r.history.push('failed');
        r.workers.decode = 'evil';
        r.state = 'failed';
        const again = await store.get('s1');
        expect(again!.history).toEqual(['queued']);
        expect(again!.workers).toEqual({});
        expect(again!.state).toBe('queued');
      });
    });

    describe('happy paths', () => {
      it('disaggregated: queued → prefilling → transferring → decoding → finished', async () => {
        await store.create({ id: 'h1', promptTokens: 128, deadlineMs: T0 + 30_000, nowMs: T0 });
        await store.transition('h1', 'queued', 'prefilling', { workers: { prefill: 'p-1' }, nowMs: T0 + 10 });
        await store.transition('h1', 'prefilling', 'transferring', { generatedTokens: 1, nowMs: T0 + 50 });
        await store.transition('h1', 'transferring', 'decoding', { workers: { decode: 'd-1' }, nowMs: T0 + 60 });
        await store.checkpointTokens('h1', 0, [11, 12, 13, 14]);
        const done = await store.transition('h1', 'decoding', 'finished', { generatedTokens: 5, nowMs: T0 + 900 });
        expect(done).toEqual({
          id: 'h1',
          state: 'finished',
          attempt: 1,
          createdAtMs: T0,
          updatedAtMs: T0 + 900,
          deadlineMs: T0 + 30_000,
          stateTimes: { queued: T0, prefilling: T0 + 10, transferring: T0 + 50, decoding: T0 + 60, finished: T0 + 900 },
          workers: { prefill: 'p-1', decode: 'd-1' },
          promptTokens: 128,
          generatedTokens: 5,
          history: ['queued', 'prefilling', 'transferring', 'decoding', 'finished'],
        });
        expect(await store.get('h1')).toEqual(done);
        expect(await store.getTokens('h1')).toEqual([11, 12, 13, 14]);
        expect(await store.expired(Number.MAX_SAFE_INTEGER)).toEqual([]);
      });

      it('unified / local prefill: queued → decoding → finished on one worker', async () => {
        await store.create({ id: 'h2', promptTokens: 16, deadlineMs: T0 + 30_000, nowMs: T0 });
        const decoding = await store.transition('h2', 'queued', 'decoding', { workers: { prefill: 'u-1', decode: 'u-1' }, nowMs: T0 + 1 });
        expect(decoding.state).toBe('decoding');
        const done = await store.transition('h2', 'decoding', 'finished', { generatedTokens: 3, nowMs: T0 + 2 });
        expect(done.history).toEqual(['queued', 'decoding', 'finished']);
        expect(done.workers).toEqual({ prefill: 'u-1', decode: 'u-1' });
        expect(done.stateTimes).toEqual({ queued: T0, decoding: T0 + 1, finished: T0 + 2 });
        expect(done.attempt).toBe(1);
      });

      it('vision: queued → encoding → prefilling → transferring → decoding → finished', async () => {
        await store.create({ id: 'h3', promptTokens: 900, deadlineMs: T0 + 30_000, nowMs: T0 });
        await store.transition('h3', 'queued', 'encoding', { workers: { vision: 'v-1' }, nowMs: T0 + 1 });
        await store.transition('h3', 'encoding', 'prefilling', { workers: { prefill: 'p-2' }, nowMs: T0 + 2 });
        await store.transition('h3', 'prefilling', 'transferring', { nowMs: T0 + 3 });
        await store.transition('h3', 'transferring', 'decoding', { workers: { decode: 'd-2' }, nowMs: T0 + 4 });
        const done = await store.transition('h3', 'decoding', 'finished', { nowMs: T0 + 5 });
        expect(done.history).toEqual(['queued', 'encoding', 'prefilling', 'transferring', 'decoding', 'finished']);
        expect(done.workers).toEqual({ vision: 'v-1', prefill: 'p-2', decode: 'd-2' });
        expect(Object.keys(done.stateTimes).sort()).toEqual(['decoding', 'encoding', 'finished', 'prefilling', 'queued', 'transferring']);
      });

      it('prefill on the decode worker: prefilling → decoding skips the transfer', async () => {
        await createIn('h4', 'prefilling');
        const r = await store.transition('h4', 'prefilling', 'decoding', { workers: { decode: 'd-3' } });
        expect(r.history).toEqual(['queued', 'prefilling', 'decoding']);
      });

      it('failed and cancelled record the error and keep the last workers', async () => {
        await createIn('f1', 'decoding');
        const failed = await store.transition('f1', 'decoding', 'failed', { error: 'decode worker d-9 lost, no capacity to migrate' });
        expect(failed.error).toBe('decode worker d-9 lost, no capacity to migrate');
        expect((await store.get('f1'))!.error).toBe(failed.error);
        await createIn('f2', 'encoding');
        const cancelled = await store.transition('f2', 'encoding', 'cancelled', { error: 'client disconnected' });
        expect(cancelled.state).toBe('cancelled');
        expect(cancelled.error).toBe('client disconnected');
      });

      it('caps a very long error message at 4096 characters', async () => {
        await createIn('f3', 'queued');
        const r = await store.transition('f3', 'queued', 'failed', { error: 'e'.repeat(10_000) });
        expect(r.error).toHaveLength(4096);
      });
    });

    describe('transition matrix (generated from transitions.ts)', () => {
      for (const from of SEQUENCE_STATES) {
        for (const to of SEQUENCE_STATES) {
          const legal = isLegalTransition(from, to);
          it(`${from} → ${to} is ${legal ? 'allowed' : 'refused'}`, async () => {
            await createIn('m', from);
            const before = (await store.get('m'))!;
            if (legal) {
              const after = await store.transition('m', from, to, { nowMs: T0 + 1000 });
              expect(after.state).toBe(to);
              expect(after.history).toEqual([...before.history, to]);
              expect(after.stateTimes[to]).toBe(T0 + 1000);
              expect(after.updatedAtMs).toBe(T0 + 1000);
              expect(await store.get('m')).toEqual(after);
            } else {
              const err = await rejection(store.transition('m', from, to, { nowMs: T0 + 1000, error: 'x' }));
              expect(err).toBeInstanceOf(IllegalTransitionError);
              const e = err as IllegalTransitionError;
              expect({ id: e.id, actual: e.actual, from: e.from, to: e.to, reason: e.reason }).toEqual({
                id: 'm',
                actual: from,
                from,
                to,
                reason: 'illegal-move',
              });
              expect(e.message).toContain('m');
              expect(e.message).toContain(`${from} → ${to}`);
              expect(await store.get('m')).toEqual(before);
            }
          });
        }
      }

      it('terminal states have no legal move at all', () => {
        for (const s of TERMINAL_STATES) expect(Object.keys(TRANSITIONS[s])).toEqual([]);
      });

      it('refuses every legal move when the sequence is in another state, naming the actual state', async () => {
        await createIn('q', 'queued');
        await createIn('d', 'decoding');
        for (const from of SEQUENCE_STATES) {
          for (const to of Object.keys(TRANSITIONS[from]) as SequenceState[]) {
            const id = from === 'queued' ? 'd' : 'q';
            const actual = id === 'q' ? 'queued' : 'decoding';
            const err = await rejection(store.transition(id, from, to));
            expect(err).toBeInstanceOf(IllegalTransitionError);
            expect(err).toMatchObject({ id, actual, from, to, reason: 'state-mismatch' });
            expect((err as Error).message).toContain(actual);
          }
        }
        expect((await store.get('q'))!.history).toEqual(['queued']);
        expect((await store.get('d'))!.state).toBe('decoding');
      });

      it('a transition of an unknown sequence throws SequenceNotFoundError', async () => {
        await expect(store.transition('ghost', 'queued', 'prefilling')).rejects.toBeInstanceOf(SequenceNotFoundError);
      });
    });

    describe('concurrency', () => {
      async function race(id: string, from: SequenceState, targets: readonly SequenceState[], patch?: TransitionPatch): Promise<void> {
        const peers = [store, ...(await Promise.all([1, 2, 3].map(() => h.openPeer())))];
        const before = (await store.get(id))!;
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => peers[i % peers.length]!.transition(id, from, targets[i % targets.length]!, patch)),
        );
        const won = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<SequenceStore['transition']>>> => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        const winner = won[0]!.value;
        for (const r of results) {
          if (r.status === 'rejected') {
            expect(r.reason).toBeInstanceOf(IllegalTransitionError);
            expect(r.reason).toMatchObject({ actual: winner.state });
            expect(['state-mismatch', 'stale-attempt']).toContain((r.reason as IllegalTransitionError).reason);
          }
        }
        const after = (await store.get(id))!;
        expect(after).toEqual(winner);
        expect(after.history).toEqual([...before.history, winner.state]);
      }

      it('20 racing queued → prefilling: exactly one wins', async () => {
        await createIn('r1', 'queued');
        await race('r1', 'queued', ['prefilling']);
      });

      it('20 racing moves to different targets from decoding: exactly one wins', async () => {
        await createIn('r2', 'decoding');
        await race('r2', 'decoding', ['finished', 'failed', 'cancelled', 'prefilling']);
      });

      it('20 racing prefill retries (self-loop) with expectedAttempt: applied once, attempt + 1 once', async () => {
        await createIn('r3', 'prefilling');
        await race('r3', 'prefilling', ['prefilling'], { expectedAttempt: 1 });
        expect((await store.get('r3'))!.attempt).toBe(2);
      });

      it('20 racing migrations decoding → prefilling with expectedAttempt: exactly one wins', async () => {
        await createIn('r4', 'decoding');
        await race('r4', 'decoding', ['prefilling'], { expectedAttempt: 1 });
        expect((await store.get('r4'))!.attempt).toBe(2);
      });

      it('without expectedAttempt a self-loop cannot be told apart: every retry applies', async () => {
        await createIn('r5', 'prefilling');
        await Promise.all(Array.from({ length: 5 }, () => store.transition('r5', 'prefilling', 'prefilling')));
        expect((await store.get('r5'))!.attempt).toBe(6);
      });

      it('a stale expectedAttempt is refused with the actual attempt, the record untouched', async () => {
        await createIn('r6', 'prefilling');
        await store.transition('r6', 'prefilling', 'prefilling', { expectedAttempt: 1, workers: { prefill: 'p-2' } });
        const before = await store.get('r6');
        const err = await rejection(store.transition('r6', 'prefilling', 'transferring', { expectedAttempt: 1 }));
        expect(err).toBeInstanceOf(IllegalTransitionError);
        expect(err).toMatchObject({ id: 'r6', actual: 'prefilling', reason: 'stale-attempt', attempt: { actual: 2, expected: 1 } });
        expect((err as Error).message).toContain('attempt 2');
        expect(await store.get('r6')).toEqual(before);
        await store.transition('r6', 'prefilling', 'transferring', { expectedAttempt: 2 });
      });
    });

    describe('attempts', () => {
      it('counts prefill retries and decode migrations, nothing else', async () => {
        await store.create({ id: 'a1', promptTokens: 50, deadlineMs: T0 + 60_000, nowMs: T0 });
        let r = await store.transition('a1', 'queued', 'prefilling', { workers: { prefill: 'p-1' }, nowMs: T0 + 1 });
        expect(r.attempt).toBe(1);
        r = await store.transition('a1', 'prefilling', 'prefilling', { workers: { prefill: 'p-2' }, error: 'p-1 lost', nowMs: T0 + 2 });
        expect(r.attempt).toBe(2);
        expect(r.workers.prefill).toBe('p-2');
        r = await store.transition('a1', 'prefilling', 'transferring', { nowMs: T0 + 3 });
        expect(r.attempt).toBe(2);
        r = await store.transition('a1', 'transferring', 'prefilling', { workers: { prefill: 'p-3' }, nowMs: T0 + 4 });
        expect(r.attempt).toBe(3);
        r = await store.transition('a1', 'prefilling', 'transferring', { nowMs: T0 + 5 });
        r = await store.transition('a1', 'transferring', 'decoding', { workers: { decode: 'd-1' }, nowMs: T0 + 6 });
        expect(r.attempt).toBe(3);
        await store.checkpointTokens('a1', 0, [1, 2, 3]);
        // Migration: d-1 died; another worker re-prefills prompt + the 3 checkpointed tokens.
        r = await store.transition('a1', 'decoding', 'prefilling', { workers: { prefill: 'd-2', decode: 'd-2' }, nowMs: T0 + 7 });
        expect(r.attempt).toBe(4);
        r = await store.transition('a1', 'prefilling', 'decoding', { nowMs: T0 + 8 });
        r = await store.transition('a1', 'decoding', 'finished', { nowMs: T0 + 9 });
        expect(r.attempt).toBe(4);
        expect(r.history).toEqual([
          'queued',
          'prefilling',
          'prefilling',
          'transferring',
          'prefilling',
          'transferring',
          'decoding',
          'prefilling',
          'decoding',
          'finished',
        ]);
        expect(r.stateTimes.prefilling).toBe(T0 + 7); // the last time it was entered
        expect(r.stateTimes.decoding).toBe(T0 + 8);
        expect(r.workers).toEqual({ prefill: 'd-2', decode: 'd-2' });
        expect(r.error).toBe('p-1 lost');
        expect(r.generatedTokens).toBe(3);
      });
    });

    describe('terminal states', () => {
      for (const terminal of TERMINAL_STATES) {
        it(`${terminal}: TTL set on the record, removed from the active set`, async () => {
          await createIn('t1', 'decoding', T0);
          await store.checkpointTokens('t1', 0, [7]);
          expect(await store.expired(T0)).toEqual(['t1']);
          expect(await h.recordTtlMs('t1')).toBeNull();
          const r = await store.transition('t1', 'decoding', terminal);
          expect(isTerminalState(r.state)).toBe(true);
          const ttl = await h.recordTtlMs('t1');
          expect(ttl).toBeGreaterThan(DEFAULT_TERMINAL_TTL_MS - 5000);
          expect(ttl).toBeLessThanOrEqual(DEFAULT_TERMINAL_TTL_MS);
          expect(await store.expired(Number.MAX_SAFE_INTEGER)).toEqual([]);
          expect(await store.getTokens('t1')).toEqual([7]);
        });
      }

      it('a terminal record and its tokens disappear after terminalTtlMs; the id is free again', async () => {
        const short = await factory({ terminalTtlMs: 150 });
        extra.push(short);
        const s = short.store;
        await s.create({ id: 'e1', promptTokens: 1, deadlineMs: T0 });
        await s.transition('e1', 'queued', 'decoding');
        await s.checkpointTokens('e1', 0, [1, 2]);
        await s.transition('e1', 'decoding', 'finished');
        expect(await short.recordTtlMs('e1')).toBeLessThanOrEqual(150);
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect(await s.get('e1')).toBeUndefined();
        await expect(s.getTokens('e1')).rejects.toBeInstanceOf(SequenceNotFoundError);
        const again = await s.create({ id: 'e1', promptTokens: 2, deadlineMs: T0 });
        expect(again.history).toEqual(['queued']);
        expect(await s.getTokens('e1')).toEqual([]);
      });
    });

    describe('deadlines', () => {
      it('expired(): due active sequences only, oldest deadline first, ties by id, at most limit', async () => {
        const deadlines: Record<string, number> = { e5: 500, e1: 100, e3: 300, e2: 200, e4: 400, e2b: 200 };
        for (const [id, d] of Object.entries(deadlines)) await store.create({ id, promptTokens: 1, deadlineMs: T0 + d, nowMs: T0 });
        expect(await store.expired(T0 + 99)).toEqual([]);
        expect(await store.expired(T0 + 300)).toEqual(['e1', 'e2', 'e2b', 'e3']); // inclusive
        expect(await store.expired(T0 + 300, 2)).toEqual(['e1', 'e2']);
        expect(await store.expired(T0 + 10_000)).toEqual(['e1', 'e2', 'e2b', 'e3', 'e4', 'e5']);
        await store.transition('e2', 'queued', 'cancelled');
        await store.transition('e3', 'queued', 'prefilling'); // still active
        expect(await store.expired(T0 + 10_000)).toEqual(['e1', 'e2b', 'e3', 'e4', 'e5']);
        expect(await store.expired(T0 + 10_000, 1)).toEqual(['e1']);
      });

      it('extendDeadline() pushes a deadline out, never in', async () => {
        await store.create({ id: 'x1', promptTokens: 1, deadlineMs: T0 + 100, nowMs: T0 });
        await store.create({ id: 'x2', promptTokens: 1, deadlineMs: T0 + 200, nowMs: T0 });
        await store.extendDeadline('x1', T0 + 1000);
        expect((await store.get('x1'))!.deadlineMs).toBe(T0 + 1000);
        expect(await store.expired(T0 + 500)).toEqual(['x2']);
        expect(await store.expired(T0 + 1000)).toEqual(['x2', 'x1']);
        await store.extendDeadline('x1', T0 + 50); // late, out-of-order heartbeat: ignored
        expect((await store.get('x1'))!.deadlineMs).toBe(T0 + 1000);
        expect(await store.expired(T0 + 500)).toEqual(['x2']);
      });

      it('extendDeadline() of an unknown or terminal sequence throws', async () => {
        await expect(store.extendDeadline('ghost', T0)).rejects.toBeInstanceOf(SequenceNotFoundError);
        await createIn('x3', 'cancelled');
        await expect(store.extendDeadline('x3', T0 + 1e6)).rejects.toBeInstanceOf(SequenceNotActiveError);
        expect(await store.expired(Number.MAX_SAFE_INTEGER)).toEqual([]);
      });

      it('refuses a bad limit', async () => {
        await expect(store.expired(T0, 0)).rejects.toBeInstanceOf(RangeError);
      });
    });

    describe('token checkpoints', () => {
      it('appends, accepts idempotent and overlapping resends, raises generatedTokens', async () => {
        await createIn('k1', 'decoding');
        await store.checkpointTokens('k1', 0, [5, 6, 7]);
        await store.checkpointTokens('k1', 3, [8, 9]);
        expect(await store.getTokens('k1')).toEqual([5, 6, 7, 8, 9]);
        expect((await store.get('k1'))!.generatedTokens).toBe(5);
        await store.checkpointTokens('k1', 0, [5, 6, 7]); // exact resend
        await store.checkpointTokens('k1', 3, [8, 9]);
        await store.checkpointTokens('k1', 1, [6]); // inner sub-range
        await store.checkpointTokens('k1', 5, []); // empty at the end
        expect(await store.getTokens('k1')).toEqual([5, 6, 7, 8, 9]);
        await store.checkpointTokens('k1', 3, [8, 9, 10, 11]); // overlaps and extends
        expect(await store.getTokens('k1')).toEqual([5, 6, 7, 8, 9, 10, 11]);
        expect((await store.get('k1'))!.generatedTokens).toBe(7);
      });

      it('refuses a gap', async () => {
        await createIn('k2', 'decoding');
        await store.checkpointTokens('k2', 0, [1, 2]);
        const err = await rejection(store.checkpointTokens('k2', 3, [4]));
        expect(err).toBeInstanceOf(TokenCheckpointError);
        expect(err).toMatchObject({ id: 'k2', reason: 'gap' });
        expect(await store.getTokens('k2')).toEqual([1, 2]);
        await expect(store.checkpointTokens('k2', 1, [])).resolves.toBeUndefined();
        await expect(store.checkpointTokens('k2', 3, [])).rejects.toBeInstanceOf(TokenCheckpointError);
      });

      it('refuses a conflicting overwrite, leaving the stored tokens as they were', async () => {
        await createIn('k3', 'decoding');
        await store.checkpointTokens('k3', 0, [1, 2, 3, 4]);
        const err = await rejection(store.checkpointTokens('k3', 2, [3, 99, 5]));
        expect(err).toBeInstanceOf(TokenCheckpointError);
        expect(err).toMatchObject({ id: 'k3', reason: 'conflict' });
        expect((err as Error).message).toContain('token 3 is stored as 4, checkpoint has 99');
        expect(await store.getTokens('k3')).toEqual([1, 2, 3, 4]);
        expect((await store.get('k3'))!.generatedTokens).toBe(4);
      });

      it('stores the full uint32 range and refuses anything else', async () => {
        await createIn('k4', 'decoding');
        const ids = [0, 1, 255, 256, 65_535, 65_536, 2 ** 31 - 1, 2 ** 31, 0xffff_fffe, 0xffff_ffff];
        await store.checkpointTokens('k4', 0, ids);
        expect(await store.getTokens('k4')).toEqual(ids);
        await store.checkpointTokens('k4', ids.length - 1, [0xffff_ffff]);
        const conflict = await rejection(store.checkpointTokens('k4', ids.length - 1, [0]));
        expect((conflict as Error).message).toContain(`stored as ${0xffff_ffff}`);
        for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
          await expect(store.checkpointTokens('k4', ids.length, [bad])).rejects.toBeInstanceOf(RangeError);
        }
        await expect(store.checkpointTokens('k4', -1, [1])).rejects.toBeInstanceOf(RangeError);
        expect(await store.getTokens('k4')).toEqual(ids);
      });

      it('refuses unknown and terminal sequences', async () => {
        await expect(store.checkpointTokens('ghost', 0, [1])).rejects.toBeInstanceOf(SequenceNotFoundError);
        await expect(store.getTokens('ghost')).rejects.toBeInstanceOf(SequenceNotFoundError);
        await createIn('k5', 'decoding');
        await store.checkpointTokens('k5', 0, [1]);
        await store.transition('k5', 'decoding', 'finished');
        const err = await rejection(store.checkpointTokens('k5', 1, [2]));
        expect(err).toBeInstanceOf(SequenceNotActiveError);
        expect(err).toMatchObject({ id: 'k5', state: 'finished' });
        expect(await store.getTokens('k5')).toEqual([1]);
      });

      it('a migrated sequence resumes from the checkpoint', async () => {
        await createIn('k6', 'decoding');
        await store.checkpointTokens('k6', 0, [1, 2, 3, 4]);
        await store.transition('k6', 'decoding', 'prefilling', { workers: { prefill: 'd-2', decode: 'd-2' } });
        const resume = await store.getTokens('k6');
        expect(resume).toEqual([1, 2, 3, 4]);
        await store.transition('k6', 'prefilling', 'decoding');
        await store.checkpointTokens('k6', resume.length, [5, 6]);
        expect(await store.getTokens('k6')).toEqual([1, 2, 3, 4, 5, 6]);
      });
    });

    describe('stored request and snapshot (what another router resumes from)', () => {
      it('keeps the request beside the record: get() is unchanged, snapshot() has record, request and tokens', async () => {
        const request = sampleRequest({ cacheSalt: 'tenant-ä' });
        const created = await store.create({ id: 'q1', promptTokens: 5, deadlineMs: T0 + 60_000, nowMs: T0, request });
        expect(created).not.toHaveProperty('request');
        expect(await store.get('q1')).toEqual(created);
        expect(await store.snapshot('q1')).toEqual({ record: created, request, tokens: [] });
      });

      it('a snapshot follows the state, the attempt and the checkpointed tokens', async () => {
        await store.create({ id: 'q2', promptTokens: 5, deadlineMs: T0 + 60_000, nowMs: T0, request: sampleRequest() });
        await store.transition('q2', 'queued', 'prefilling', { workers: { prefill: 'p-1' }, nowMs: T0 + 1 });
        await store.transition('q2', 'prefilling', 'transferring', { nowMs: T0 + 2 });
        await store.transition('q2', 'transferring', 'decoding', { workers: { decode: 'd-1' }, nowMs: T0 + 3 });
        await store.checkpointTokens('q2', 0, [9, 8, 7]);
        const snap = (await store.snapshot('q2'))!;
        expect(snap.record).toEqual(await store.get('q2'));
        expect(snap.record).toMatchObject({ state: 'decoding', attempt: 1, generatedTokens: 3, workers: { prefill: 'p-1', decode: 'd-1' } });
        expect(snap.tokens).toEqual([9, 8, 7]);
        expect(snap.request).toEqual(sampleRequest());
      });

      it('a router that resumes: snapshot, claim with the attempt it read (one of two racing resumers wins), continue the checkpoints', async () => {
        await createIn('q3', 'decoding');
        await store.checkpointTokens('q3', 0, [4, 5]);
        const peer = await h.openPeer();
        const [a, b] = await Promise.all([store.snapshot('q3'), peer.snapshot('q3')]);
        const claims = await Promise.allSettled(
          [a!, b!].map((snap, i) =>
            [store, peer][i]!.transition('q3', snap.record.state, 'prefilling', { expectedAttempt: snap.record.attempt, workers: { prefill: `d-${i}`, decode: `d-${i}` } }),
          ),
        );
        expect(claims.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
        const lost = claims.find((c) => c.status === 'rejected') as PromiseRejectedResult;
        expect(lost.reason).toBeInstanceOf(IllegalTransitionError);
        await store.transition('q3', 'prefilling', 'decoding');
        await store.checkpointTokens('q3', a!.tokens.length, [6]);
        const after = (await store.snapshot('q3'))!;
        expect(after.tokens).toEqual([4, 5, 6]);
        expect(after.record.attempt).toBe(2);
        expect(after.record.history.slice(-2)).toEqual(['prefilling', 'decoding']);
      });

      it('a sequence created without a request has none; an unknown id has no snapshot', async () => {
        await createIn('q4', 'decoding');
        const snap = (await store.snapshot('q4'))!;
        expect(snap).not.toHaveProperty('request');
        expect(snap.record.state).toBe('decoding');
        expect(await store.snapshot('ghost')).toBeUndefined();
      });

      it('stores exactly what comes back: absent options stay absent, images lose their pixels', async () => {
        const { seed: _seed, logprobs: _logprobs, ...sampling } = sampleRequest().sampling;
        const image = { mmHash: 'abc123', offset: 1, tokenCount: 2, grid: { t: 1, h: 2, w: 4 } };
        const withPixels = { ...image, pixels: new Float32Array(24) };
        const request: SequenceRequest = { promptTokenIds: [5, 6, 7], sampling, eosTokenIds: [], images: [withPixels] };
        await store.create({ id: 'q5', promptTokens: 3, deadlineMs: T0, request });
        const stored = (await store.snapshot('q5'))!.request!;
        expect(stored).toEqual({ promptTokenIds: [5, 6, 7], sampling, eosTokenIds: [], images: [image] });
        expect(stored.sampling).not.toHaveProperty('seed');
        expect(stored.sampling).not.toHaveProperty('logprobs');
        expect(stored).not.toHaveProperty('cacheSalt');
      });

      it('refuses a request that could not be read back exactly, and creates nothing', async () => {
        const bad: Array<[SequenceRequest, typeof TypeError | typeof RangeError]> = [
          [sampleRequest({ promptTokenIds: [1, -1] }), RangeError],
          [sampleRequest({ promptTokenIds: [2 ** 32] }), RangeError],
          [sampleRequest({ eosTokenIds: [1.5] }), RangeError],
          [sampleRequest({ promptTokenIds: 'abc' as unknown as number[] }), TypeError],
          [{ ...sampleRequest(), sampling: { ...sampleRequest().sampling, temperature: Number.NaN } }, RangeError],
          [{ ...sampleRequest(), sampling: { ...sampleRequest().sampling, topP: Infinity } }, RangeError],
          [{ ...sampleRequest(), sampling: { ...sampleRequest().sampling, seed: 2 ** 32 } }, RangeError],
          [{ ...sampleRequest(), sampling: { ...sampleRequest().sampling, stopTokenIds: [-3] } }, RangeError],
          [{ ...sampleRequest(), sampling: null as unknown as SequenceRequest['sampling'] }, TypeError],
        ];
        for (const [request, kind] of bad) {
          await expect(store.create({ id: 'q6', promptTokens: 1, deadlineMs: T0, request })).rejects.toBeInstanceOf(kind);
        }
        expect(await store.get('q6')).toBeUndefined();
      });

      it('returns copies: mutating a snapshot changes nothing stored', async () => {
        await store.create({ id: 'q7', promptTokens: 5, deadlineMs: T0, nowMs: T0, request: sampleRequest() });
        await store.transition('q7', 'queued', 'decoding');
        await store.checkpointTokens('q7', 0, [1]);
        const snap = (await store.snapshot('q7'))!;
        snap.request!.promptTokenIds.push(99);
        snap.request!.sampling.seed = 1;
        snap.tokens.push(2);
        snap.record.state = 'failed';
        const again = (await store.snapshot('q7'))!;
        expect(again.request).toEqual(sampleRequest());
        expect(again.tokens).toEqual([1]);
        expect(again.record.state).toBe('decoding');
      });

      it('a terminal record keeps its request until it expires with it', async () => {
        const short = await factory({ terminalTtlMs: 150 });
        extra.push(short);
        const s = short.store;
        await s.create({ id: 'q8', promptTokens: 5, deadlineMs: T0, request: sampleRequest() });
        await s.transition('q8', 'queued', 'decoding');
        await s.transition('q8', 'decoding', 'cancelled');
        expect((await s.snapshot('q8'))!.request).toEqual(sampleRequest());
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect(await s.snapshot('q8')).toBeUndefined();
        await s.create({ id: 'q8', promptTokens: 1, deadlineMs: T0 });
        expect(await s.snapshot('q8')).not.toHaveProperty('request');
      });
    });

    it('close() is idempotent and the store refuses use afterwards', async () => {
      const own = await factory({});
      extra.push(own);
      await own.store.create({ id: 'z1', promptTokens: 1, deadlineMs: T0 });
      await own.store.close();
      await own.store.close();
      await expect(own.store.get('z1')).rejects.toThrow(/closed/);
    });
  });
}
