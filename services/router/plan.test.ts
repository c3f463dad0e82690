import { describe, expect, it } from 'vitest';
import type { WorkerRecord } from '../protocol/registry.js';
import { planStages } from './plan.js';
import { LeastLoadPolicy } from './policies/least-load.js';
import { RoundRobinPolicy } from './policies/round-robin.js';

const layout = { layers: 1, numBlocks: 8, blockSize: 16, kvHeads: 1, headDim: 8, dtype: 'bf16' as const };
const w = (id: string, role: WorkerRecord['role'], running = 0): WorkerRecord => ({ id, role, model: 'm', grpc: 'x:1', layout, load: { running, waiting: 0, kvUsage: 0, freeBlocks: 8 }, startedAtMs: 0 });
const req = (n: number) => ({ requestId: 'r', promptTokenIds: Array.from({ length: n }, (_, i) => i) });
const opts = { localPrefillBelow: 32, prefillSaturation: 4 };

describe('stage planning', () => {
  it('disaggregates long prompts when both pools exist, prefill candidates ordered for retry', () => {
    const p = planStages([w('p1', 'prefill-text'), w('p2', 'prefill-text', 1), w('d1', 'decode-text')], req(100), new LeastLoadPolicy(), opts);
    expect(p).toMatchObject({ kind: 'disaggregated', decode: { id: 'd1' } });
    if (p.kind === 'disaggregated') expect(p.prefillCandidates.map((c) => c.id)).toEqual(['p1', 'p2']);
  });

  it('prefills locally on the decode worker for short prompts, a saturated or an empty prefill pool', () => {
    expect(planStages([w('p1', 'prefill-text'), w('d1', 'decode-text')], req(10), new LeastLoadPolicy(), opts)).toMatchObject({ kind: 'single', reason: 'local-prefill' });
    expect(planStages([w('p1', 'prefill-text', 9), w('d1', 'decode-text')], req(100), new LeastLoadPolicy(), opts)).toMatchObject({ kind: 'single', reason: 'local-prefill' });
    expect(planStages([w('d1', 'decode-text')], req(100), new LeastLoadPolicy(), opts)).toMatchObject({ kind: 'single', reason: 'local-prefill' });
  });

  it('pairs a decode worker only with prefill workers of the same quantization', () => {
    const q = (r: WorkerRecord, quantization: WorkerRecord['quantization']): WorkerRecord => ({ ...r, quantization });
    const p = planStages([w('p1', 'prefill-text'), q(w('p2', 'prefill-text', 1), 'wint4'), q(w('d1', 'decode-text'), 'wint4')], req(100), new LeastLoadPolicy(), opts);
    expect(p).toMatchObject({ kind: 'disaggregated', decode: { id: 'd1' } });
    if (p.kind === 'disaggregated') expect(p.prefillCandidates.map((c) => c.id)).toEqual(['p2']);
    expect(planStages([w('p1', 'prefill-text'), q(w('d1', 'decode-text'), 'wint8')], req(100), new LeastLoadPolicy(), opts)).toMatchObject({ kind: 'single', reason: 'local-prefill' });
  });

  it('pairs a decode worker only with prefill workers whose kernels use the same instruction set', () => {
    const isa = (r: WorkerRecord, x: string): WorkerRecord => ({ ...r, isa: x });
    const p = planStages([isa(w('p1', 'prefill-text'), 'avx2'), isa(w('p2', 'prefill-text', 1), 'avx512bf16'), isa(w('d1', 'decode-text'), 'avx512bf16')], req(100), new LeastLoadPolicy(), opts);
    if (p.kind !== 'disaggregated') throw new Error(`expected a disaggregated plan, got ${p.kind}`);
    expect(p.prefillCandidates.map((c) => c.id)).toEqual(['p2']);
    expect(planStages([isa(w('p1', 'prefill-text'), 'avx512'), isa(w('d1', 'decode-text'), 'avx512bf16')], req(100), new LeastLoadPolicy(), opts)).toMatchObject({ kind: 'single', reason: 'local-prefill' });
  });

  it('uses unified workers when there is no decode pool, and reports when nothing can serve', () => {
    expect(planStages([w('u1', 'unified')], req(100), new LeastLoadPolicy(), opts)).toMatchObject({ kind: 'single', reason: 'unified' });
    expect(planStages([w('p1', 'prefill-text')], req(100), new LeastLoadPolicy(), opts)).toMatchObject({ kind: 'none' });
  });

  it('policies: least-load picks the idlest, round-robin cycles in id order', () => {
    const ws = [w('b', 'decode-text', 3), w('a', 'decode-text', 1), w('c', 'decode-text', 1)];
    expect(new LeastLoadPolicy().select(ws)!.id).toBe('a');
    const rr = new RoundRobinPolicy();
    expect([rr.select(ws), rr.select(ws), rr.select(ws), rr.select(ws)].map((x) => x!.id)).toEqual(['a', 'b', 'c', 'a']);
  });
});
