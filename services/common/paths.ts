import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where Tandem keeps generated checkpoints and other caches: $TANDEM_HOME, else ~/.cache/tandem. */
export function tandemHome(): string {
  return process.env.TANDEM_HOME || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tandem');
}

export function generatedModelDir(family: string, size: string, seed: number, weightScale = 1): string {
  return join(tandemHome(), 'models', `${family}-${size}-seed${seed}${weightScale === 1 ? '' : `-scale${weightScale}`}`);
}
