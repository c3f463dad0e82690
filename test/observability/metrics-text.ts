/** Reading Prometheus text expositions in tests: sums over label sets, names per docs section. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Sum of the samples of `name` whose labels include every pair of `labels` (0 when none). */
export function sumOf(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? ([0-9.eE+-]+|NaN)$`, 'gm'))) {
    const set = m[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[2]);
  }
  return sum;
}

/** Metric names docs/metrics.md lists, by `## ` section (Gateway, Router, Workers). */
export function documentedMetrics(): Record<string, string[]> {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
  const out: Record<string, string[]> = {};
  let section = '';
  for (const line of doc.split('\n')) {
    const h = /^## (.+)$/.exec(line);
    if (h) section = h[1]!.trim();
    const m = /^\| `(tandem_[a-z0-9_]+)` \|/.exec(line);
    if (m) (out[section] ??= []).push(m[1]!);
  }
  return out;
}
