/**
 * Checks a checkpoint written by train_tiny_ernie.py against the torch model that wrote it:
 * Tandem's bf16 forward pass (ModelRunner, the serving path) on the same token ids must give the
 * torch logits, and greedy decoding must continue the same way. A wrong tensor name, transpose,
 * RoPE layout or norm placement in the export shows up here as disagreeing top-1 tokens.
 *
 *   node dist/loadtest/quality/verify-export.js --model DIR --work DIR-work
 *
 * Reads WORK/verify.json ({vocab, sequences: [{ids, greedy_prompt, greedy}]}) and
 * WORK/verify_logits.f32 (the torch logits of every sequence, [sum of lengths, vocab] fp32).
 * Prints one JSON line; exits 1 when teacher-forced top-1 agreement is under 99%.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelRunner } from '../../services/engine/runner/model-runner.js';
import { loadTextModelWeights } from '../../services/engine/weights/load-text-weights.js';

interface VerifyFile {
  vocab: number;
  sequences: Array<{ ids: number[]; greedy_prompt: number; greedy: number[] }>;
}

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error('usage: verify-export --model DIR --work DIR');
  return v;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

async function main(): Promise<void> {
  const model = arg('model');
  const work = arg('work');
  const v = JSON.parse(await readFile(join(work, 'verify.json'), 'utf8')) as VerifyFile;
  const raw = await readFile(join(work, 'verify_logits.f32'));
  const torchLogits = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const weights = await loadTextModelWeights(model);
  const V = weights.config.vocabSize;
  if (V !== v.vocab) throw new Error(`vocab ${V} in ${model}, ${v.vocab} in verify.json`);
  const maxLen = Math.max(...v.sequences.map((s) => Math.max(s.ids.length, s.greedy_prompt + s.greedy.length)));
  const bs = 16;
  const runner = new ModelRunner(weights, { numBlocks: Math.ceil(maxLen / bs) + 1, blockSize: bs, maxBatchTokens: maxLen, maxModelLen: maxLen + bs, quantization: 'none' });
  const table = Array.from({ length: Math.ceil(maxLen / bs) }, (_, i) => i);

  let positions = 0;
  let agree = 0;
  let maxAbs = 0;
  let sumSqDiff = 0;
  let sumSq = 0;
  let greedyPrefix = 0;
  let greedyTotal = 0;
  let row0 = 0;
  for (const s of v.sequences) {
    const [logits] = await runner.forward([{ tokens: s.ids, startPos: 0, blockTable: table, logits: 'all' }]);
    for (let t = 0; t < s.ids.length; t++) {
      const a = logits!.subarray(t * V, (t + 1) * V);
      const b = torchLogits.subarray((row0 + t) * V, (row0 + t + 1) * V);
      if (argmax(a) === argmax(b)) agree++;
      for (let k = 0; k < V; k++) {
        const d = a[k]! - b[k]!;
        maxAbs = Math.max(maxAbs, Math.abs(d));
        sumSqDiff += d * d;
        sumSq += b[k]! * b[k]!;
      }
      positions++;
    }
    row0 += s.ids.length;

    // Greedy: prefill the prompt, then one token per step through the KV cache (the decode path).
    const prompt = s.ids.slice(0, s.greedy_prompt);
    let [last] = await runner.forward([{ tokens: prompt, startPos: 0, blockTable: table, logits: 'last' }]);
    const out: number[] = [];
    for (let i = 0; i < s.greedy.length; i++) {
      out.push(argmax(last!));
      [last] = await runner.forward([{ tokens: [out[i]!], startPos: prompt.length + i, blockTable: table, logits: 'last' }]);
    }
    let n = 0;
    while (n < out.length && out[n] === s.greedy[n]) n++;
    greedyPrefix += n;
    greedyTotal += s.greedy.length;
  }
  const result = {
    model,
    positions,
    top1_agreement: agree / positions,
    logits_max_abs_diff: maxAbs,
    logits_rel_rms_diff: Math.sqrt(sumSqDiff / sumSq),
    greedy_common_prefix: greedyPrefix,
    greedy_tokens: greedyTotal,
  };
  console.log(JSON.stringify(result));
  if (result.top1_agreement < 0.99) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`verify-export: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
