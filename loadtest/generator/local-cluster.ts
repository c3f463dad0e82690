/**
 * `--compare` starts each cluster the way a user would — `tandem up` as a child process — so the
 * benchmark measures exactly what ships, and a crash in one mode cannot take the load generator
 * down with it. Modes:
 *   unified  `tandem up --mode unified`: one worker does every stage
 *   disagg   `tandem up --mode disagg`: prefill-text and decode-text workers in ONE process; they
 *            share that process's kernel thread pool (its regions run one at a time)
 *   cluster  `tandem up --cluster` with one prefill-text and one decode-text worker PROCESS
 *            (needs NATS and Redis), each with half the threads: disaggregation with the cores
 *            actually split between the stages
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
  /** total kernel threads of the mode (TANDEM_THREADS, split between worker processes); undefined = defaults */
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

export const COMPARE_MODES = ['unified', 'disagg', 'cluster'] as const;

/** `tandem up` arguments and kernel threads per process for a mode, same total threads for all. */
export function upCommand(mode: string, threads: number | undefined, upArgs: string[]): { args: string[]; threadsPerProcess?: number } {
  if (mode === 'cluster') {
    // A name of our own, so a benchmark cluster never joins another one's registry on a shared NATS.
    const name = `bench-${process.pid}-${Date.now().toString(36)}`;
    return { args: ['up', '--cluster', '--prefill-text', '1', '--decode-text', '1', '--cluster-name', name, '--port', '0', ...upArgs], threadsPerProcess: threads ? Math.max(1, Math.floor(threads / 2)) : undefined };
  }
  if (mode !== 'unified' && mode !== 'disagg') throw new Error(`unknown mode '${mode}' (${COMPARE_MODES.join(', ')})`);
  return { args: ['up', '--mode', mode, '--port', '0', ...upArgs], threadsPerProcess: threads };
}

export function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const { args, threadsPerProcess } = upCommand(o.mode, o.threads, o.upArgs);
  const env = { ...process.env, ...(threadsPerProcess ? { TANDEM_THREADS: String(threadsPerProcess) } : {}) };
  const proc = spawn(process.execPath, [tandemBin(), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      reject(new Error(`tandem up (${o.mode}) did not start within ${o.timeoutMs ?? 300_000} ms:\n${out}`));
    }, o.timeoutMs ?? 300_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`tandem up (${o.mode}) exited with ${code}:\n${out}`));
    };
    proc.once('exit', onExit);
    proc.stdout!.on('data', () => {
      // The ready banner: "Tandem [cluster] is serving NAME at URL/v1 ..." then the curl line.
      const m = /serving (\S+) at (http:\/\/\S+\/v1)/.exec(out);
      if (!m || !/curl [^\n]*\n/.test(out)) return;
      clearTimeout(timer);
      proc.off('exit', onExit);
      resolve({ mode: o.mode, model: m[1]!, baseURL: m[2]!, proc, output: () => out, stop });
    });
  });
}
