/**
 * A minimal progress bar for long writes. On a TTY it redraws one line in place (at most every
 * 100 ms); otherwise (CI logs, pipes) it prints one plain line per 10% step.
 */

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressBarOptions {
  label?: string;
  /** Defaults to process.stdout. */
  stream?: ProgressStream;
  /** 'bytes' formats amounts as KB/MB/GB; 'count' prints plain numbers. */
  unit?: 'bytes' | 'count';
  /** Clock in milliseconds (injectable for tests). */
  now?: () => number;
}

export interface ProgressBar {
  /** Matches the `onProgress(doneBytes, totalBytes)` callback shape. */
  update(done: number, total: number): void;
  /** Draws the final state and ends the line. Idempotent. */
  finish(): void;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function createProgressBar(opts: ProgressBarOptions = {}): ProgressBar {
  const stream: ProgressStream = opts.stream ?? process.stdout;
  const label = opts.label ?? 'progress';
  const now = opts.now ?? (() => performance.now());
  const amount = opts.unit === 'count' ? (n: number) => String(n) : formatBytes;
  const tty = stream.isTTY === true;
  const start = now();
  let lastDraw = -Infinity;
  let lastStep = -1;
  let done = 0;
  let total = 0;
  let finished = false;

  const pct = () => (total > 0 ? Math.min(1, done / total) : 1);

  const line = () => {
    const p = pct();
    const secs = (now() - start) / 1000;
    const rate = secs > 0 && opts.unit !== 'count' ? ` ${formatBytes(done / secs)}/s` : '';
    const tail = ` ${(p * 100).toFixed(1).padStart(5)}% ${amount(done)}/${amount(total)}${rate}`;
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - tail.length - 4));
    const fill = Math.round(p * width);
    return `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}]${tail}`;
  };

  return {
    update(d, t) {
      if (finished) return;
      done = d;
      total = t;
      if (tty) {
        const ts = now();
        if (ts - lastDraw >= 100 || d >= t) {
          lastDraw = ts;
          stream.write(`\r${line()}\x1b[K`);
        }
        return;
      }
      const step = Math.floor(pct() * 10);
      if (step > lastStep && step > 0) {
        lastStep = step;
        stream.write(`${label}: ${step * 10}% (${amount(done)} of ${amount(total)})\n`);
      }
    },
    finish() {
      if (finished) return;
      if (tty) stream.write(`\r${line()}\x1b[K\n`);
      else if (lastStep < 10) stream.write(`${label}: done (${amount(done)} of ${amount(total)})\n`);
      finished = true;
    },
  };
}
