import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'tandem.js');

export interface ClusterProcess {
  role: string;
  proc: ChildProcess;
  ready: Record<string, unknown>;
}

/** Starts `tandem <args>` as a child and resolves with the JSON line it prints when ready. */
export function spawnTandem(role: string, args: string[], log: (m: string) => void, timeoutMs = 120_000, env: Record<string, string> = {}): Promise<ClusterProcess> {
  // Credentials go to children in `env`, never on their command lines (visible in ps).
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.trim()) log(`[${role}] ${line}`);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not become ready within ${timeoutMs} ms`)), timeoutMs);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve({ role, proc, ready: JSON.parse(line) });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited with code ${code} before it was ready`));
    });
  });
}

/** SIGINT to every child, then SIGKILL what is still alive after 5 s. */
export async function stopAll(procs: ClusterProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.proc.exitCode !== null || p.proc.signalCode !== null) return resolve();
          p.proc.once('exit', () => resolve());
          p.proc.kill('SIGINT');
          setTimeout(() => p.proc.kill('SIGKILL'), 5000).unref();
        }),
    ),
  );
}
