/**
 * DESIGN.md §2's dependency rules, enforced: dependency-cruiser checks the whole tree against
 * .dependency-cruiser.cjs, and a forbidden import anywhere fails `npm test`. The second case
 * proves the rules bite by cruising a throw-away tree that breaks each of the main ones.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cruise, type ICruiseOptions, type IViolation } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const config = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs')) as { forbidden: unknown[]; options: Record<string, unknown> };

async function violations(dirs: string[], baseDir: string, tsConfig?: string): Promise<IViolation[]> {
  const { options } = config;
  const opts = {
    ...options,
    baseDir,
    validate: true,
    ruleSet: { forbidden: config.forbidden },
    tsConfig: tsConfig ? { fileName: tsConfig } : undefined,
    outputType: 'json',
  } as unknown as ICruiseOptions;
  const result = await cruise(dirs, opts);
  const output = (typeof result.output === 'string' ? JSON.parse(result.output) : result.output) as { summary: { violations: IViolation[] } };
  return output.summary.violations;
}

const describeViolation = (v: IViolation) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`;

describe('dependency rules (DESIGN.md §2)', () => {
  it('the tree has zero violations', async () => {
    const found = await violations(['services', 'kernels/ts', 'tools', 'loadtest'], root, join(root, 'tsconfig.json'));
    expect(found.map(describeViolation)).toEqual([]);
  });

  it('each main rule catches the import it forbids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-deps-'));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    try {
      write('services/gateway/server.ts', "import { step } from '../engine/engine.js';\nexport const s = step;\n");
      write('services/engine/engine.ts', "import { tok } from '../text/tokenizer.js';\nimport * as net from 'node:net';\nexport const step = [tok, net];\n");
      write('services/text/tokenizer.ts', 'export const tok = 1;\n');
      write('services/router/plan.ts', "import { rec } from '../worker/record.js';\nexport const p = rec;\n");
      write('services/worker/record.ts', "import { tok } from '../text/tokenizer.js';\nexport const rec = tok;\n");
      write('services/protocol/card.ts', "import { p } from '../router/plan.js';\nexport const c = p;\n");
      write('services/bus/a.ts', "import { b } from './b.js';\nexport const a = b;\n");
      write('services/bus/b.ts', "import { a } from './a.js';\nexport const b = a;\n");
      write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }));
      const rules = new Set((await violations(['services'], dir, join(dir, 'tsconfig.json'))).map((v) => v.rule.name));
      for (const rule of [
        'gateway-reaches-workers-through-the-router',
        'engine-is-a-pure-library',
        'engine-opens-no-sockets',
        'router-shares-types-through-protocol',
        'workers-see-token-ids-only',
        'protocol-depends-on-common-only',
        'no-circular',
      ]) {
        expect(rules, rule).toContain(rule);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
