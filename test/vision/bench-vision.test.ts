import { describe, expect, it } from 'vitest';
import { runVisionBench } from '../../services/cli/bench/vision-bench.js';
import { genTinyModel } from '../fixtures/models.js';

describe('tandem bench vision (tiny VL checkpoint)', () => {
  it('reports encode time, embedding transfer and cold vs warm TTFT per resolution', async () => {
    const r = await runVisionBench({ modelDir: genTinyModel('ernie4_5_vl_moe'), resolutions: [[56, 56], [112, 84]], repeats: 2, backend: 'tcp', log: () => {} });
    expect(r.rows.map((x) => x.imageTokens)).toEqual([4, 12]);
    // tiny model: hidden 64, fp32 rows.
    expect(r.rows.map((x) => x.embeddingBytes)).toEqual([4 * 64 * 4, 12 * 64 * 4]);
    for (const row of r.rows) {
      for (const k of ['encodeSeconds', 'transferSeconds', 'ttftColdSeconds', 'ttftWarmSeconds'] as const) expect((row[k] as { p50: number }).p50).toBeGreaterThan(0);
    }
  });
});
