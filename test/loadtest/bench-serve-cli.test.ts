/**
 * `tandem bench serve` for real: against a `tandem up` process on the tiny generated model
 * (--url), and with --compare starting both modes itself. Every request must succeed and the
 * reported figures must be consistent with each other.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'tandem.js');

function tandem(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, TANDEM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

type Dist = { n: number; mean: number; p50: number; p90: number; p99: number; max: number };
type Summary = { requests: number; completed: number; failed: number; errors: Record<string, number>; goodput: number; slo_attainment: number; request_throughput: number; output_tokens_per_s: number; ttft_ms: Dist; tpot_ms: Dist; itl_ms: Dist; e2e_ms: Dist; output_tokens: Dist; prompt_tokens: Dist };

function expectConsistent(s: Summary, n: number): void {
  expect(s.errors).toEqual({});
  expect(s).toMatchObject({ requests: n, completed: n, failed: 0 });
  for (const d of [s.ttft_ms, s.tpot_ms, s.e2e_ms]) {
    expect(d.n).toBe(n);
    expect(d.p50).toBeGreaterThan(0);
    expect(d.p50).toBeLessThanOrEqual(d.p90);
    expect(d.p90).toBeLessThanOrEqual(d.p99);
  }
  expect(s.e2e_ms.p99).toBeGreaterThanOrEqual(s.ttft_ms.p50);
  // ignore_eos: every request produced exactly the sampled 4..12 tokens.
  expect(s.output_tokens.p50).toBeGreaterThanOrEqual(4);
  expect(s.output_tokens.max).toBeLessThanOrEqual(12);
  expect(s.itl_ms.n).toBeGreaterThan(0);
  expect(s.goodput).toBeLessThanOrEqual(s.request_throughput);
}

describe('tandem bench serve', () => {
  let model: string;
  let up: RunningCluster;
  beforeAll(async () => {
    model = genTinyModel();
    up = await startTandemUp(['--model', model, '--mode', 'unified'], { TANDEM_THREADS: '1' });
  });
  afterAll(() => up?.stop());

  it('--url: streams a seeded workload, reports TTFT/TPOT/ITL/goodput as JSON, a file and an HTML page', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-serve-'));
    const r = await tandem([
      'bench', 'serve', '--url', up.baseURL, '--num-requests', '16', '--rate', '20', '--seed', '3',
      '--prompt-len', 'mixed:0.25*fixed:120+0.75*uniform:8-24', '--output-len', 'uniform:4-12', '--tokenizer', model,
      '--slo-ttft-ms', '60000', '--slo-tpot-ms', '60000', '--json', '--out', join(dir, 'r.json'), '--html', join(dir, 'r.html'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const s = JSON.parse(lines[0]!) as Summary & { bench: string; config: Record<string, unknown> };
    expect(s.bench).toBe('serve');
    expect((s as unknown as { load_average_1m: number[] }).load_average_1m).toEqual([expect.any(Number), expect.any(Number)]);
    expect(s.config).toMatchObject({ num_requests: 16, rate: 20, seed: 3, burstiness: 1, ignore_eos: true, image_fraction: 0 });
    expectConsistent(s, 16);
    // Generous SLOs: every request is good, so goodput is the request throughput.
    expect(s.slo_attainment).toBe(1);
    expect(s.goodput).toBe(s.request_throughput);
    // Long prompts were ~120 tokens plus the chat template; short ones 8..24.
    expect(s.prompt_tokens.max).toBeGreaterThanOrEqual(120);
    expect(s.prompt_tokens.p50).toBeLessThan(60);
    expect(r.stderr).toMatch(/serve gateway: 100% \(16 of 16\)/);

    const file = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { requests: { gateway: Array<{ ok: boolean; output_tokens: number; ttft_ms: number }> } };
    expect(file.requests.gateway).toHaveLength(16);
    expect(file.requests.gateway.every((q) => q.ok && q.output_tokens >= 4 && q.ttft_ms > 0)).toBe(true);
    const html = readFileSync(join(dir, 'r.html'), 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).toContain(`<td>requests (completed / failed)</td><td>16 / 0</td>`);

    // Tight SLOs nobody can meet: goodput 0 while all requests still completed.
    const tight = await tandem(['bench', 'serve', '--url', up.baseURL, '--num-requests', '4', '--rate', 'inf', '--output-len', 'fixed:4', '--slo-ttft-ms', '0.001', '--json']);
    const t = JSON.parse(tight.stdout) as Summary;
    expect(t.completed).toBe(4);
    expect(t.goodput).toBe(0);
  });

  it('--compare unified,disagg: starts both clusters, runs the same requests, prints a side-by-side table', async () => {
    const r = await tandem([
      'bench', 'serve', '--compare', 'unified,disagg', '--model', model, '--threads', '1', '--num-requests', '8', '--rate', '10',
      '--prompt-len', 'uniform:8-40', '--output-len', 'uniform:4-12', '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { bench: string; runs: Record<string, Summary>; better: Record<string, string> };
    expect(out.bench).toBe('serve-compare');
    expect(Object.keys(out.runs)).toEqual(['unified', 'disagg']);
    expectConsistent(out.runs.unified!, 8);
    expectConsistent(out.runs.disagg!, 8);
    // Same seeded dataset → the same prompt and output lengths in both modes.
    expect(out.runs.disagg!.prompt_tokens).toEqual(out.runs.unified!.prompt_tokens);
    expect(out.runs.disagg!.output_tokens).toEqual(out.runs.unified!.output_tokens);
    expect(['unified', 'disagg', 'tie']).toContain(out.better.tpot_p99);
    expect(r.stderr).toMatch(/figure\s+unified\s+disagg/);
    expect(r.stderr).toMatch(/completed \/ failed\s+8 \/ 0\s+8 \/ 0/);
    expect(r.stderr).toMatch(/starting disagg: tandem up --mode disagg --port 0 \(TANDEM_THREADS=1 per process\)/);
  });
});
