/**
 * Asks the real `tandem` command whether it accepts an argument list: `node bin/tandem.js <argv>
 * --help`. The CLI parses strictly (node:util parseArgs) before it looks at --help, so an unknown
 * subcommand or flag exits 2 while known ones print the help and exit 0 — without starting
 * anything. Values the parser takes as plain strings are checked here against the code's own
 * lists (worker roles, routing policies, generator families and sizes) and as port numbers.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GEN_SIZES } from '../../tools/gen/presets.js';
import { POLICY_NAMES } from '../../services/router/policies/index.js';
import { WORKER_ROLES } from '../../services/protocol/registry.js';
import { root } from './repo-files.js';

const run = promisify(execFile);
const BIN = join(root, 'bin', 'tandem.js');

/** Flag → value pairs of an argv (every Tandem flag but --help takes a value; boolean flags such as --if-absent go last in deploy files). */
export function flags(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else m.set(a.slice(2), argv[++i] ?? '');
  }
  return m;
}

const accepted = new Map<string, Promise<void>>();

/** Rejects with the CLI's own message when `tandem` refuses the subcommand or a flag name. */
export function cliAccepts(argv: string[]): Promise<void> {
  // Only the subcommand and flag names matter to the parser; argvs sharing them share one spawn.
  const key = [argv[0], ...[...flags(argv).keys()].sort()].join(' ');
  if (!accepted.has(key)) {
    accepted.set(
      key,
      run(process.execPath, [BIN, ...argv, '--help'], { cwd: root, timeout: 30_000 }).then(
        () => undefined,
        (e: { code?: number; stderr?: string; message: string }) => {
          throw new Error(`tandem ${argv.join(' ')} is refused by the CLI (exit ${e.code}): ${e.stderr || e.message}`);
        },
      ),
    );
  }
  return accepted.get(key)!;
}

const PORT_FLAGS = ['port', 'grpc-port', 'metrics-port'];

/** Problems with flag values the parser does not check itself (empty list = fine). */
export function valueProblems(argv: string[]): string[] {
  const f = flags(argv);
  const bad: string[] = [];
  const sub = argv[0];
  if (sub === 'worker' && !WORKER_ROLES.includes(f.get('role') as never)) bad.push(`--role ${f.get('role')} is not one of ${WORKER_ROLES.join(', ')}`);
  if (sub === 'router' && f.has('policy') && !POLICY_NAMES.includes(f.get('policy') as never)) bad.push(`--policy ${f.get('policy')} is not one of ${POLICY_NAMES.join(', ')}`);
  if (sub === 'gen-model') {
    const family = f.get('family') as keyof typeof GEN_SIZES;
    if (!(family in GEN_SIZES)) bad.push(`--family ${family} is unknown`);
    else if (!GEN_SIZES[family].includes(f.get('size') as never)) bad.push(`--size ${f.get('size')} is not a ${family} size`);
    if (!f.get('out')) bad.push('--out is required');
  }
  for (const p of PORT_FLAGS) {
    const v = f.get(p);
    if (v !== undefined && !(Number.isInteger(Number(v)) && Number(v) > 0 && Number(v) < 65536)) bad.push(`--${p} ${v} is not a fixed port`);
  }
  return bad;
}

/** The ports a Tandem process listens on, by the flag that sets each. */
export function listenPorts(argv: string[]): Map<string, number> {
  const f = flags(argv);
  return new Map(PORT_FLAGS.filter((p) => f.has(p)).map((p) => [p, Number(f.get(p))]));
}
