/**
 * `tandem <command>`: the one entry point of every Tandem process. Each command lives in its own
 * file under commands/ and exports `run(argv): Promise<number>` (the exit code).
 */
import { runBench } from './commands/bench.js';
import { runGenModel } from './commands/gen-model.js';
import { runGenSecret } from './commands/gen-secret.js';
import { runGenCerts } from './commands/gen-certs.js';
import { runUp } from './commands/up.js';
import { runGateway } from './commands/gateway.js';
import { runRouter } from './commands/router.js';
import { runWorker } from './commands/worker.js';
import { CliError } from './cli-error.js';

const COMMANDS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  up: { summary: 'start a local Tandem (worker + OpenAI-compatible gateway) at http://127.0.0.1:8000/v1', run: runUp },
  gateway: { summary: 'the OpenAI-compatible gateway in front of a router (cluster mode)', run: runGateway },
  router: { summary: 'the stage planner / dispatcher (cluster mode)', run: runRouter },
  worker: { summary: 'a worker process: --role prefill-text|decode-text|unified (cluster mode)', run: runWorker },
  'gen-model': { summary: 'generate a random-weight ERNIE-4.5 checkpoint in Hugging Face layout', run: runGenModel },
  'gen-secret': { summary: 'write a new cluster secret file (mode 0600) for --cluster-secret-file', run: runGenSecret },
  'gen-certs': { summary: 'write a CA and a certificate for gRPC TLS (--grpc-tls-cert/-key/-ca), with openssl', run: runGenCerts },
  bench: { summary: 'benchmarks: `bench kernels` (native forward vs this machine\'s bounds)', run: runBench },
};

export function usage(): string {
  const lines = ['usage: tandem <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  lines.push('', 'Run `tandem <command> --help` for the options of a command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return cmd ? 0 : 1;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    console.error(`tandem: unknown command '${cmd}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await c.run(rest);
  } catch (e) {
    if (e instanceof CliError) {
      console.error(`tandem ${cmd}: ${e.message}`);
      return 2;
    }
    const err = e as Error & { code?: string };
    console.error(`tandem ${cmd}: ${err.message}${err.code ? ` [${err.code}]` : ''}`);
    return 1;
  }
}
