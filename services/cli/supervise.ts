import { spawnTandem, type ClusterProcess } from './cluster.js';

export interface Supervised {
  /** The live process of each role (replaced on restart), for printing and for stopAll. */
  readonly procs: ClusterProcess[];
  /** Stop restarting (the cluster is shutting down). */
  stop(): void;
}

/**
 * Restarts a child of `tandem up --cluster` that exits while the cluster is up (a crash, an
 * OOM kill, kill -9), as compose's `restart: unless-stopped` and a Kubernetes Deployment do:
 * after 0.5 s, doubling to at most 8 s while it keeps dying within a minute of starting. The
 * new process gets the same arguments (and environment); `args(p)` may pin what must not change,
 * e.g. the router's port, which the gateway dials.
 */
export function supervise(
  initial: ClusterProcess[],
  argsOf: Map<ClusterProcess, { args: string[]; env?: Record<string, string> }>,
  log: (m: string) => void,
): Supervised {
  const procs = [...initial];
  let stopping = false;
  const restart = (p: ClusterProcess, spec: { args: string[]; env?: Record<string, string> }, delayMs: number): void => {
    setTimeout(() => {
      if (stopping) return;
      spawnTandem(p.role, spec.args, log, undefined, spec.env).then(
        (q) => {
          if (stopping) return void q.proc.kill('SIGINT');
          argsOf.set(q, spec);
          procs[procs.indexOf(p)] = q;
          log(`[tandem] restarted ${q.role}: pid ${q.proc.pid} ${q.ready.id ? `id ${String(q.ready.id)} ` : ''}${String(q.ready.metrics ?? q.ready.grpc ?? '')}`);
          watch(q, Math.min(delayMs * 2, 8000));
        },
        (e: Error) => {
          log(`[tandem] could not restart ${p.role}: ${e.message}`);
          restart(p, spec, Math.min(delayMs * 2, 8000));
        },
      );
    }, delayMs).unref();
  };
  const watch = (p: ClusterProcess, delayMs: number): void => {
    const startedAt = Date.now();
    p.proc.once('exit', (code, signal) => {
      if (stopping) return;
      // A process that ran for a minute starts the back-off afresh.
      const delay = Date.now() - startedAt > 60_000 ? 500 : delayMs;
      log(`[tandem] ${p.role} (pid ${p.proc.pid}) exited (${signal ?? `code ${code}`}); restarting it in ${delay} ms`);
      restart(p, argsOf.get(p)!, delay);
    });
  };
  for (const p of initial) watch(p, 500);
  return { procs, stop: () => (stopping = true) };
}
