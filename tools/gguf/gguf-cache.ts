/**
 * Converted GGUFs of a checkpoint, written once and reused: `<dir>-gguf/<format>.gguf` beside
 * the checkpoint, or under the OS temp dir when that is not writable. A stamp of the checkpoint
 * (config.json and safetensors sizes and mtimes) and of this converter's version sits beside
 * them; a different stamp re-converts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { TextModelWeights } from '../../services/engine/model-types.js';
import { writeErnieGguf, type GgufFormat } from './ernie-to-gguf.js';

/** Bump when the converter's output changes. */
const CONVERTER_VERSION = 1;

function stampOf(dir: string): string {
  const parts = readdirSync(dir)
    .filter((f) => f === 'config.json' || f.endsWith('.safetensors') || f === 'tokenizer.model')
    .sort()
    .map((f) => {
      const s = statSync(join(dir, f));
      return `${f}:${s.size}:${s.mtimeMs}`;
    });
  return createHash('sha256').update(`v${CONVERTER_VERSION}\n${parts.join('\n')}`).digest('hex').slice(0, 16);
}

function writableDir(candidates: string[]): string {
  for (const d of candidates) {
    try {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, '.probe'), '');
      rmSync(join(d, '.probe'));
      return d;
    } catch {
      // try the next one
    }
  }
  throw new Error(`no writable directory for GGUF files among ${candidates.join(', ')}`);
}

/** Path of `dir`'s GGUF in each of `formats`, converting those absent or stale. */
export function ensureGgufs(dir: string, weights: TextModelWeights, formats: readonly GgufFormat[], log: (m: string) => void = () => {}): Record<GgufFormat, string> {
  const abs = resolve(dir);
  const stamp = stampOf(abs);
  const cache = writableDir([`${abs}-gguf`, join(tmpdir(), 'tandem-gguf', `${basename(abs)}-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`)]);
  const stampFile = join(cache, 'stamp');
  const fresh = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp;
  if (!fresh) {
    // Files of another checkpoint state are dropped; the stamp is written once the set is complete.
    rmSync(stampFile, { force: true });
    for (const f of readdirSync(cache)) if (f.endsWith('.gguf')) rmSync(join(cache, f));
  }
  const out = {} as Record<GgufFormat, string>;
  for (const format of formats) {
    const path = join(cache, `${format}.gguf`);
    out[format] = path;
    if (fresh && existsSync(path)) continue;
    const t0 = performance.now();
    let last = 0;
    const bytes = writeErnieGguf({
      weights,
      dir: abs,
      out: path,
      format,
      onTensor: (i, n) => {
        const pct = Math.floor((100 * i) / n);
        if (pct >= last + 25) log(`[gguf] ${format}: ${(last = pct)}%`);
      },
    });
    log(`[gguf] wrote ${path} (${(bytes / 2 ** 20).toFixed(0)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  writeFileSync(stampFile, stamp);
  return out;
}
