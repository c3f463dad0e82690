/**
 * Shutdown on SIGTERM / SIGINT for the long-running commands (gateway, router, worker, up).
 *
 * The contract every service keeps: the process is gone within about 2 s of the signal. It
 * stops taking new work at once, lets in-flight requests finish for a grace period
 * (`TANDEM_SHUTDOWN_GRACE_MS`, default 1000), then fails what is left cleanly (the client gets
 * an error event or status, never a hung connection) and exits. A hard backstop exits the
 * process shortly after the grace period whatever is still pending (a socket, an exporter), and
 * a second signal exits at once. A signal that arrives before the service is ready exits
 * immediately: there is nothing to drain, and a process running as PID 1 in a container would
 * otherwise ignore it.
 */

export { drainOrForce } from '../common/shutdown.js';

export const DEFAULT_SHUTDOWN_GRACE_MS = 1000;
/** After the grace period: time for the forced failure to reach clients before the backstop. */
const FORCE_WINDOW_MS = 600;
/** After a clean stop: time for stdout/stderr to drain if an idle handle keeps the loop alive. */
const LINGER_MS = 100;

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

export function shutdownGraceMs(): number {
  const raw = process.env.TANDEM_SHUTDOWN_GRACE_MS;
  if (raw === undefined || raw === '') return DEFAULT_SHUTDOWN_GRACE_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`TANDEM_SHUTDOWN_GRACE_MS must be a non-negative integer of milliseconds, got '${raw}'`);
  return n;
}

export interface ShutdownTrap {
  /** Marks the service ready and resolves with the signal's name once one arrives. */
  ready(): Promise<string>;
}

/**
 * Installs SIGINT/SIGTERM handlers now (call it first thing in a command). Before `ready()` a
 * signal exits the process with 128 + signal number; after, it resolves `ready()`'s promise and
 * arms the backstop timer.
 */
export function trapShutdownSignals(log: (m: string) => void, graceMs = shutdownGraceMs()): ShutdownTrap {
  let isReady = false;
  let got: string | undefined;
  let resolveSignal: ((sig: string) => void) | undefined;
  const on = (sig: string) => {
    if (got !== undefined) {
      log(`[tandem] second ${sig}: exiting now`);
      process.exit(128 + (SIGNAL_NUMBERS[sig] ?? 0));
    }
    got = sig;
    if (!isReady) {
      log(`[tandem] ${sig} before ready: exiting`);
      process.exit(128 + (SIGNAL_NUMBERS[sig] ?? 0));
    }
    log(`[tandem] ${sig}: shutting down (in-flight requests get ${graceMs} ms)`);
    // Backstop: whatever still holds the process after the grace period and the forced stop.
    setTimeout(() => {
      log(`[tandem] shutdown did not finish within ${graceMs + FORCE_WINDOW_MS} ms: exiting`);
      process.exit(process.exitCode ?? 0);
    }, graceMs + FORCE_WINDOW_MS).unref();
    resolveSignal?.(sig);
  };
  process.on('SIGINT', () => on('SIGINT'));
  process.on('SIGTERM', () => on('SIGTERM'));
  return {
    ready() {
      isReady = true;
      return new Promise<string>((resolve) => {
        resolveSignal = resolve;
      });
    },
  };
}

/**
 * Called once a command's stop sequence is done: exits shortly if an idle handle (a keep-alive
 * socket, an exporter's timer) would keep the event loop alive, so that stopping never waits on
 * a peer.
 */
export function exitSoon(code: number): number {
  process.exitCode = code;
  setTimeout(() => process.exit(code), LINGER_MS).unref();
  return code;
}
