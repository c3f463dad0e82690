import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'tandem.js');

export interface ClusterProcess {
  role: string;
  proc: ChildProcess;
  ready: Record<string, unknown>;
}

/**
 * Children spawned and not yet ready (or never to be: timed out, being killed). stopAll() kills
 * these too, so a child still starting when the cluster stops — a restart the supervisor began a
 * moment before, or a start-up interrupted by Ctrl-C — is not left running without its parent.
 */
const starting = new Set<ChildProcess>();

/** Starts `tandem <args>` as a child and resolves with the JSON line it prints when ready. */
export function spawnTandem(role: string, args: string[], log: (m: string) => void, timeoutMs = 120_000, env: Record<string, string> = {}): Promise<ClusterProcess> {
  // Credentials go to children in `env`, never on their command lines (visible in ps).
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  starting.add(proc);
  proc.once('exit', () => starting.delete(proc));
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.trim()) log(`[${role}] ${line}`);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL'); // nobody will ever use it
      reject(new Error(`${role} did not become ready within ${timeoutMs} ms`));
    }, timeoutMs);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        starting.delete(proc);
        resolve({ role, proc, ready: JSON.parse(line) });
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited (${signal ?? `code ${code}`}) before it was ready`));
    });
  });
}

/** SIGINT to every child, then SIGKILL what is still alive after 5 s; children still starting are killed at once. */
export async function stopAll(procs: ClusterProcess[]): Promise<void> {
  const unready = [...starting].map(
    (c) =>
      new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }),
  );
  await Promise.all([
    ...unready,
    ...procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.proc.exitCode !== null || p.proc.signalCode !== null) return resolve();
          p.proc.once('exit', () => resolve());
          p.proc.kill('SIGINT');
          setTimeout(() => p.proc.kill('SIGKILL'), 5000).unref();
        }),
    ),
  ]);
}
