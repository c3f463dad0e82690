/**
 * The children of `tandem up --cluster`: one still starting when the cluster stops (a restart the
 * supervisor began a moment before, or a start-up interrupted) must not outlive its parent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// From the compiled tree (as `tandem up --cluster` runs it): it finds bin/tandem.js relative to
// dist/, and `npm test` compiles first.
const { spawnTandem, stopAll } = (await import(pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'services', 'cli', 'cluster.js')).href)) as typeof import('./cluster.js');

// A worker pointed at a NATS port nobody listens on keeps trying for 10 s before it gives up:
// a child that is alive and not ready.
const SLOW = ['worker', '--role', 'decode-text', '--nats', 'nats://127.0.0.1:1', '--insecure'];

/** Processes of this test's slow workers still alive (their command line names the dead NATS port). */
function slowWorkersAlive(): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nats://127.0.0.1:1\0')) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

describe('cluster children', () => {
  it('stopAll kills a child that is still starting', async () => {
    const pending = spawnTandem('slow', SLOW, () => {}, 60_000);
    const outcome = pending.then(() => 'ready', (e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 1500));
    await stopAll([]);
    // Killed, not given up on its own after its 10 s NATS timeout (that would be an exit code).
    expect(await outcome).toBe('slow exited (SIGKILL) before it was ready');
    expect(slowWorkersAlive()).toBe(0);
  }, 30_000);

  it('a child that does not become ready in time is killed, not left running', async () => {
    const outcome = await spawnTandem('slow', SLOW, () => {}, 1000).then(() => 'ready', (e: Error) => e.message);
    expect(outcome).toBe('slow did not become ready within 1000 ms');
    await new Promise((r) => setTimeout(r, 300));
    expect(slowWorkersAlive()).toBe(0);
  }, 30_000);
});
