/**
 * Runs the Tandem services of deploy/compose.yaml as local processes, the way compose would run
 * their containers: the same `tandem` command and environment, with only what a container
 * network gives for free rewritten — service names become 127.0.0.1, each container port becomes
 * a free local port, named volumes become temp dirs, and NATS / Redis / the OTLP collector
 * become the endpoints the test provides.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { ClusterProcess } from '../../services/cli/cluster.js';
import { listenPorts } from './cli-check.js';
import { root, tandemServices, type ComposeFile } from './repo-files.js';

export interface NativeService {
  name: string;
  argv: string[];
  env: Record<string, string>;
  /** Compose runs it to completion (restart: "no"), others wait for it to exit 0. */
  oneShot: boolean;
  /** Start wave: every dependency is in an earlier wave. */
  wave: number;
}

export interface NativeOptions {
  /** Full URLs standing in for infrastructure services, keyed by compose `host:port`. */
  external: Record<string, string>;
  /** Where named volumes live. */
  volumesDir: string;
  /** Extra environment overrides (e.g. a unique TANDEM_CLUSTER). */
  env?: Record<string, string>;
  /** Values for compose's `${VAR:-default}` interpolation (as a user's shell would give). */
  vars?: Record<string, string>;
}

/** n distinct free local ports (all held open until every one is chosen, so none repeats). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  for (let i = 0; i < n; i++) {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
  }
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const LISTEN_FLAGS = new Set(['--port', '--grpc-port', '--metrics-port']);

export async function planNative(compose: ComposeFile, o: NativeOptions): Promise<{ services: NativeService[]; ports: Map<string, number> }> {
  const tandem = tandemServices(compose);
  const names = new Set(tandem.map(([n]) => n));
  // Every container port of every Tandem service gets its own local port.
  const keys = tandem.flatMap(([n, s]) => [...listenPorts(s.command!).values()].map((p) => `${n}:${p}`));
  const free = await freePorts(keys.length);
  const ports = new Map(keys.map((k, i) => [k, free[i]!]));

  const address = (where: string, host: string, port: string, whole: string): string => {
    const key = `${host}:${port}`;
    if (o.external[key]) return o.external[key]!;
    if (names.has(host)) {
      const local = ports.get(key);
      if (!local) throw new Error(`${where}: ${key} is not a port ${host} listens on`);
      return whole.replace(key, `127.0.0.1:${local}`);
    }
    throw new Error(`${where}: ${key} names no service the native run knows`);
  };
  // `${VAR:-default}` as compose interpolates it (from o.vars), then `scheme://host:port` or bare
  // `host:port` where host is a compose service.
  const rewriteValue = (where: string, v: string): string =>
    v.replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, def: string) => o.vars?.[name] || def).replace(/(?:[a-z]+:\/\/)?([a-z][a-z0-9-]*):(\d+)/g, (whole, host: string, port: string) => (compose.services[host] ? address(where, host, port, whole) : whole));

  const waves = new Map<string, number>();
  const waveOf = (n: string): number => {
    if (!waves.has(n)) {
      const deps = Object.keys(compose.services[n]!.depends_on ?? {}).filter((d) => names.has(d));
      waves.set(n, deps.length ? Math.max(...deps.map(waveOf)) + 1 : 0);
    }
    return waves.get(n)!;
  };

  const services = tandem.map(([name, s]): NativeService => {
    const mounts = (s.volumes ?? []).map((v) => v.split(':')).filter(([src]) => !src!.startsWith('.'));
    // A path inside a mounted volume (an argument, or an environment value such as the cluster
    // secret file's) becomes the same path under that volume's temp dir.
    const inVolume = (v: string): string | undefined => {
      for (const [vol, target] of mounts) if (v === target || v.startsWith(`${target}/`)) return join(o.volumesDir, vol!) + v.slice(target!.length);
      return undefined;
    };
    const argv = s.command!.map((arg, i, all) => {
      const flag = all[i - 1] ?? '';
      if (LISTEN_FLAGS.has(flag)) return String(ports.get(`${name}:${arg}`));
      if (flag === '--host') return '127.0.0.1';
      return inVolume(arg) ?? rewriteValue(`${name} argv`, arg);
    });
    for (const [vol] of mounts) mkdirSync(join(o.volumesDir, vol!), { recursive: true, mode: 0o700 });
    const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, inVolume(String(v)) ?? rewriteValue(`${name} ${k}`, String(v))]));
    return { name, argv, env: { ...env, ...(o.env ?? {}) }, oneShot: s.restart === 'no', wave: waveOf(name) };
  });
  return { services, ports };
}

const BIN = join(root, 'bin', 'tandem.js');

/** The parent's environment without Tandem/OTel settings, so only the compose environment counts. */
function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TANDEM_') && !k.startsWith('OTEL_')));
}

/**
 * Starts one service: a one-shot one must exit 0; a long-running one resolves with the JSON line
 * every Tandem service prints when ready. Output is kept for failure messages.
 */
export function startNative(s: NativeService, timeoutMs = 60_000): Promise<ClusterProcess & { output: () => string }> {
  const proc = spawn(process.execPath, [BIN, ...s.argv], { cwd: root, env: { ...baseEnv(), ...s.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  proc.stderr!.on('data', (d: Buffer) => (out += d));
  const output = () => out;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${s.name} not ready within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const done = (ready: Record<string, unknown>) => {
      clearTimeout(timer);
      resolve({ role: s.name, proc, ready, output });
    };
    if (!s.oneShot) {
      proc.stdout!.on('data', () => {
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) done(JSON.parse(line) as Record<string, unknown>);
      });
    }
    proc.on('exit', (code, signal) => {
      if (s.oneShot && code === 0) return done({});
      clearTimeout(timer);
      reject(new Error(`${s.name} (tandem ${s.argv.join(' ')}) exited with ${signal ?? code}:\n${out}`));
    });
  });
}
