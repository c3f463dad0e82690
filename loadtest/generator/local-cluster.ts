/**
 * `--compare` starts each cluster the way a user would — `tandem up --mode M` as a child process
 * — so the benchmark measures exactly what ships, and a crash in one mode cannot take the load
 * generator down with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LocalCluster {
  mode: string;
  baseURL: string;
  model: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  mode: string;
  /** extra `tandem up` flags (model, max-num-seqs, ...) */
  upArgs: string[];
  /** kernel threads of the cluster process (TANDEM_THREADS); undefined = its default */
  threads?: number;
  timeoutMs?: number;
}

/** bin/tandem.js, found by walking up from this file (it runs from dist/ and, in tests, from source). */
export function tandemBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'bin', 'tandem.js');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('bin/tandem.js not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const env = { ...process.env, ...(o.threads ? { TANDEM_THREADS: String(o.threads) } : {}) };
  const proc = spawn(process.execPath, [tandemBin(), 'up', '--mode', o.mode, '--port', '0', ...o.upArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGINT');
      setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`tandem up --mode ${o.mode} did not start within ${o.timeoutMs ?? 300_000} ms:\n${out}`));
    }, o.timeoutMs ?? 300_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`tandem up --mode ${o.mode} exited with ${code}:\n${out}`));
    };
    proc.once('exit', onExit);
    proc.stdout!.on('data', () => {
      // The ready banner: "Tandem is serving NAME at URL/v1 ..." then the curl line.
      const m = /serving (\S+) at (http:\/\/\S+\/v1)/.exec(out);
      if (!m || !/curl [^\n]*\n/.test(out)) return;
      clearTimeout(timer);
      proc.off('exit', onExit);
      resolve({ mode: o.mode, model: m[1]!, baseURL: m[2]!, proc, output: () => out, stop });
    });
  });
}
