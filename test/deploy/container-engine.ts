/**
 * A container engine for the compose test, on a machine like CI's: Debian, root, apt and the npm
 * registry reachable, no image registry. Installs docker.io / docker-compose / debootstrap when
 * missing, starts dockerd when none is running (and stops exactly that one afterwards), and
 * builds the registry-free base images with deploy/offline-images.sh.
 *
 * The dockerd started here runs with --iptables=false --ip-forward=false --ip-masq=false: compose
 * networks are bridges on this host (containers reach each other, docker-proxy publishes ports on
 * 127.0.0.1), image builds use --network host, and the host's firewall and sysctls are never
 * touched. Anything missing is an error, never a skip.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './repo-files.js';

export const log = (m: string) => process.stderr.write(`[compose-docker] ${m}\n`);

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const isRoot = () => process.getuid?.() === 0;

/**
 * Runs a command without blocking this test worker: minutes-long steps (apt, image builds) must leave the
 * event loop free, or vitest's worker RPC times out ("Timeout calling onTaskUpdate").
 */
function runAsync(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}):\n${(err || out).slice(-4000)}`));
    });
  });
}

/** docker.io, docker-compose and debootstrap, from apt when missing (one `apt-get update` first). */
export async function ensurePackages(): Promise<void> {
  const missing = [
    ...(has('dockerd') ? [] : ['docker.io']),
    ...(has('docker-compose') ? [] : ['docker-compose']),
    ...(has('debootstrap') || existsSync('/usr/sbin/debootstrap') ? [] : ['debootstrap']),
  ];
  if (!has('docker') && !missing.includes('docker.io')) missing.push('docker.io');
  if (missing.length === 0) return;
  if (!isRoot()) throw new Error(`the compose test needs ${missing.join(', ')} and is not root to install them (apt-get install ${missing.join(' ')})`);
  log(`apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runAsync('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
  await runAsync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, timeoutMs: 600_000 });
}

export interface Engine {
  /** Environment for docker / docker-compose (DOCKER_HOST when the daemon is ours). */
  env: NodeJS.ProcessEnv;
  /** Stops the daemon if this module started it and checks it left the host as it found it. */
  stop(): Promise<string[]>;
}

const daemonUp = (env: NodeJS.ProcessEnv) => spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { env, encoding: 'utf8', timeout: 20_000 }).status === 0;
const firewall = () => (has('iptables-save') ? spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n') : '');
const links = () => spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '').filter(Boolean);

/** The running Docker daemon, or one started here (root only). */
export async function ensureDaemon(): Promise<Engine> {
  const env = { ...process.env };
  if (daemonUp(env)) {
    log('using the running Docker daemon');
    return { env, stop: async () => [] };
  }
  if (!isRoot()) throw new Error('no Docker daemon is running and the test is not root to start one (dockerd)');
  const firewallBefore = firewall();
  const linksBefore = new Set(links());
  const forwardBefore = spawnSync('cat', ['/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).stdout;
  const logFile = join(tmpdir(), `tandem-dockerd-${process.pid}.log`);
  const out = openSync(logFile, 'w');
  const proc: ChildProcess = spawn('dockerd', ['--iptables=false', '--ip-forward=false', '--ip-masq=false'], { stdio: ['ignore', out, out], detached: true });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  log(`started dockerd (pid ${proc.pid}, log ${logFile})`);
  for (let i = 0; !daemonUp(env); i++) {
    if (proc.exitCode !== null || i > 60) {
      proc.kill('SIGKILL');
      throw new Error(`dockerd did not come up:\n${spawnSync('tail', ['-20', logFile], { encoding: 'utf8' }).stdout}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    env,
    async stop() {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      // dockerd leaves its default bridge behind; it was not there before.
      for (const l of links()) if (!linksBefore.has(l) && (l === 'docker0' || l.startsWith('br-') || l.startsWith('veth'))) spawnSync('ip', ['link', 'delete', l]);
      const problems: string[] = [];
      if (firewall() !== firewallBefore) problems.push(`iptables rules changed:\n${firewall()}`);
      const leftLinks = links().filter((l) => !linksBefore.has(l));
      if (leftLinks.length) problems.push(`network links left: ${leftLinks.join(', ')}`);
      if (spawnSync('cat', ['/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).stdout !== forwardBefore) problems.push('net.ipv4.ip_forward changed');
      if (proc.exitCode === null && proc.signalCode === null) problems.push(`dockerd ${proc.pid} is still running`);
      log('stopped dockerd');
      return problems;
    },
  };
}

/** Builds (or finds cached) the registry-free base images; returns the TANDEM_*_IMAGE variables. */
export async function offlineImages(env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const t0 = Date.now();
  const out = await runAsync(join(root, 'deploy', 'offline-images.sh'), [], { env, timeoutMs: 900_000 });
  const vars = Object.fromEntries([...out.matchAll(/^export (TANDEM_[A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  log(`offline base images ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return vars;
}

/** docker build of deploy/Dockerfile on the given base images (host network: no NAT needed). */
export async function buildTandemImage(env: NodeJS.ProcessEnv, tag: string, vars: Record<string, string>): Promise<number> {
  const t0 = Date.now();
  await runAsync('docker', ['build', '--network', 'host', '-f', join(root, 'deploy', 'Dockerfile'), '--build-arg', `BUILD_IMAGE=${vars.TANDEM_BUILD_IMAGE}`, '--build-arg', `RUNTIME_IMAGE=${vars.TANDEM_RUNTIME_IMAGE}`, '-t', tag, root], { env, timeoutMs: 1_200_000 });
  return (Date.now() - t0) / 1000;
}

export const dockerJson = <T>(env: NodeJS.ProcessEnv, args: string[]): T[] =>
  execFileSync('docker', args, { env, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
