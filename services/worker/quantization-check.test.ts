import { describe, expect, it } from 'vitest';
import { encodeJson, MemoryBus } from '../bus/index.js';
import type { WorkerRecord } from '../protocol/registry.js';
import { checkQuantizationMatches, QuantizationMismatchError } from './quantization-check.js';

const layout = { layers: 2, numBlocks: 8, blockSize: 16, kvHeads: 1, headDim: 16, dtype: 'bf16' as const };
const load = { running: 0, waiting: 0, kvUsage: 0, freeBlocks: 8, preemptions: 0 };

async function registryWith(records: Array<Partial<WorkerRecord>>) {
  const kv = await new MemoryBus().keyValue('reg', { ttlMs: 5000 });
  for (const [i, r] of records.entries()) {
    const rec = { id: `w${i}`, role: 'decode-text', model: 'm', grpc: '127.0.0.1:1', layout, load, startedAtMs: 0, ...r };
    await kv.put(rec.id!, encodeJson(rec));
  }
  return kv;
}

describe('checkQuantizationMatches (P/D workers must compute the same KV)', () => {
  it('wint8 with rotated down projections and wint8 without (an old pre-quantized checkpoint) refuse each other', async () => {
    const rotated = await registryWith([{ quantization: 'wint8', quantRotation: 'down-hadamard128' }]);
    await expect(checkQuantizationMatches(rotated, { id: 'me', role: 'prefill-text', model: 'm', quantization: 'wint8', quantRotation: 'none' })).rejects.toThrow(QuantizationMismatchError);
    await expect(checkQuantizationMatches(rotated, { id: 'me', role: 'prefill-text', model: 'm', quantization: 'wint8', quantRotation: 'none' })).rejects.toThrow(/rotated 'none', but decode-text worker w0 .* uses 'down-hadamard128'/);
    await expect(checkQuantizationMatches(rotated, { id: 'me', role: 'prefill-text', model: 'm', quantization: 'wint8', quantRotation: 'down-hadamard128' })).resolves.toBeUndefined();
    const unrotated = await registryWith([{ quantization: 'wint8' }]);
    await expect(checkQuantizationMatches(unrotated, { id: 'me', role: 'prefill-text', model: 'm', quantization: 'wint8', quantRotation: 'down-hadamard128' })).rejects.toThrow(QuantizationMismatchError);
    // Another model, or a vision worker, is not compared.
    await expect(checkQuantizationMatches(rotated, { id: 'me', role: 'prefill-text', model: 'other', quantization: 'wint8', quantRotation: 'none' })).resolves.toBeUndefined();
    await expect(checkQuantizationMatches(rotated, { id: 'me', role: 'prefill-vision', model: 'm', quantization: 'none' })).resolves.toBeUndefined();
  });

  it('workers whose quantized layouts differ (group size, LM head bits) refuse each other; a worker without one registered has its scheme\'s old layout', async () => {
    const me = { id: 'me', role: 'prefill-text' as const, model: 'm', quantization: 'wint4' as const, quantLayout: 'g128-head8' };
    // A worker of an older Tandem registers no layout: its wint4 head was int4.
    const old = await registryWith([{ quantization: 'wint4' }]);
    await expect(checkQuantizationMatches(old, me)).rejects.toThrow(QuantizationMismatchError);
    await expect(checkQuantizationMatches(old, me)).rejects.toThrow(/layout 'g128-head8' .* but decode-text worker w0 of m uses 'g128-head4'/);
    await expect(checkQuantizationMatches(old, { ...me, quantLayout: 'g128-head4' })).resolves.toBeUndefined();
    const same = await registryWith([{ quantization: 'wint4', quantLayout: 'g128-head8' }]);
    await expect(checkQuantizationMatches(same, me)).resolves.toBeUndefined();
    await expect(checkQuantizationMatches(same, { ...me, quantLayout: 'g64-head8' })).rejects.toThrow(/layout 'g64-head8'/);
    // Zero points change the codes too (symmetric and asymmetric wint4 of one group size refuse each other).
    const zp = await registryWith([{ quantization: 'wint4', quantLayout: 'g32-zp-p16-head8' }]);
    await expect(checkQuantizationMatches(zp, { ...me, quantLayout: 'g32-head8' })).rejects.toThrow(/uses 'g32-zp-p16-head8'/);
    // A worker of the Tandem before panels (same codes, row-major, another fp32 order).
    await expect(checkQuantizationMatches(zp, { ...me, quantLayout: 'g32-zp-head8' })).rejects.toThrow(/uses 'g32-zp-p16-head8'/);
    await expect(checkQuantizationMatches(zp, { ...me, quantLayout: 'g32-zp-p16-head8' })).resolves.toBeUndefined();
    // wint8's layout did not change: an older wint8 worker still pairs with a new one.
    const oldW8 = await registryWith([{ quantization: 'wint8', quantRotation: 'down-hadamard128' }]);
    await expect(
      checkQuantizationMatches(oldW8, { id: 'me', role: 'prefill-text', model: 'm', quantization: 'wint8', quantRotation: 'down-hadamard128', quantLayout: 'g0-head8' }),
    ).resolves.toBeUndefined();
  });
});
