import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateCheckpoint } from '../../tools/gen/gen-model.js';
import type { GenSize } from '../../tools/gen/presets.js';
import { progressForLargeWrites } from './progress.js';
import type { TextFamily } from '../engine/model-types.js';
import type { VlFamily } from '../engine/vl-model-types.js';
import { generatedModelDir } from '../common/paths.js';

/** The generated checkpoint for (family, size, seed), generating it once (with a progress bar) if absent. */
/**
 * The embedded default of `tandem up|gateway|worker` without --model: a tiny vision-language
 * checkpoint, so the default cluster shows the whole Prefill-Vision → Prefill-Text → Decode-Text
 * path (text-only requests work on it too).
 */
export const DEFAULT_MODEL = { family: 'ernie4_5_vl_moe', size: 'tiny', name: 'ernie-4.5-vl-tiny' } as const;

export async function ensureGeneratedModel(family: TextFamily | VlFamily, size: GenSize, seed = 0, log = (m: string) => process.stderr.write(m + '\n'), weightScale = 1): Promise<string> {
  const dir = generatedModelDir(family, size, seed, weightScale);
  if (existsSync(join(dir, 'config.json'))) return dir;
  log(`[tandem] generating ${family} ${size} checkpoint (seed ${seed}${weightScale === 1 ? "" : `, weight scale ${weightScale}`}) into ${dir} (once; cached afterwards)`);
  const bar = progressForLargeWrites(`gen ${family} ${size}`);
  await generateCheckpoint({ family, size, outDir: dir, seed, weightScale, onProgress: bar.update });
  bar.finish();
  return dir;
}
