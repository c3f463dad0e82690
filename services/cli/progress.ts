import { createProgressBar, type ProgressBar } from './progress-bar.js';

/** Writes under this size finish too fast for a progress bar to help. */
const LARGE_BYTES = 64 * 1024 * 1024;

/**
 * A byte progress bar on stderr (stdout stays clean for --json output) that only appears when
 * the total is large.
 */
export function progressForLargeWrites(label: string): { update: (done: number, total: number) => void; finish: () => void } {
  let bar: ProgressBar | undefined;
  return {
    update: (done, total) => {
      if (!bar && total >= LARGE_BYTES) bar = createProgressBar({ label, stream: process.stderr, unit: 'bytes' });
      bar?.update(done, total);
    },
    finish: () => bar?.finish(),
  };
}
