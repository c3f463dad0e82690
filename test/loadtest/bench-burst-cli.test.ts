/**
 * `tandem bench burst` for real: it starts `tandem up --mode unified` with a 4-slot queue on the
 * tiny generated model, sends 60 requests at once, and reports what the gateway did with them.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { genTinyModel } from '../fixtures/models.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'tandem.js');

describe('tandem bench burst', () => {
  it('admits up to the bound, refuses the rest with 429 + Retry-After, never more in flight than the bound', async () => {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [bin, 'bench', 'burst', '--json', '--model', genTinyModel(), '--requests', '60', '--max-num-seqs', '2', '--max-waiting', '2', '--max-tokens', '64'], { env: { ...process.env, TANDEM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(out.code, out.stderr).toBe(0);
    const r = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Record<string, unknown> & { refusal_ms: { p50: number }; health_ms: { p50: number } };
    expect(r).toMatchObject({ bench: 'burst', requests: 60, limit: 4, other: 0 });
    expect(Number(r.admitted)).toBeGreaterThanOrEqual(1);
    // (A request admitted early may finish before the burst is through and free its slot: the
    // bound is on what is in flight at once, not on how many are admitted in total.)
    expect(Number(r.admitted) + Number(r.refused)).toBe(60);
    expect(r.refused_with_retry_after).toBe(r.refused);
    expect(Number(r.in_flight_peak)).toBeLessThanOrEqual(4);
    expect(r.refusal_ms.p50).toBeGreaterThan(0);
    expect(r.health_ms.p50).toBeGreaterThan(0);
  }, 120_000);
});
