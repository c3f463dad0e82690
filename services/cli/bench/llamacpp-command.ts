/** Argument handling of `tandem bench llamacpp` (help text in commands/bench.ts). */
import { resolve } from 'node:path';
import { loadTextModelWeights } from '../../engine/weights/load-text-weights.js';
import { ensureGeneratedModel } from '../ensure-model.js';
import { intOption, parseCommandArgs } from '../parse.js';
import { runLlamacppBench } from './llamacpp-bench.js';

export async function runLlamacppBenchCommand(argv: string[], help: string): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    json: { type: 'boolean' },
    model: { type: 'string' },
    threads: { type: 'string' },
    prompt: { type: 'string' },
    gen: { type: 'string' },
    repeats: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const log = (m: string) => process.stderr.write(m + '\n');
  // The quality bench's checkpoint: 0.3B shapes, weight scale 1.5 (scale 1 repeats one token, which would make the greedy check trivial).
  const dir = values.model ? resolve(values.model) : await ensureGeneratedModel('ernie4_5', '0.3b', 0, log, 1.5);
  log(`[bench] loading ${dir}`);
  const result = await runLlamacppBench({
    weights: await loadTextModelWeights(dir),
    model: dir,
    threads: intOption(values.threads, 'threads', 2, 1),
    promptTokens: intOption(values.prompt, 'prompt', 512, 1),
    genTokens: intOption(values.gen, 'gen', 64, 1),
    repeats: intOption(values.repeats, 'repeats', 3, 1),
    log,
  });
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  return 0;
}
