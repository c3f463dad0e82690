/**
 * The k6 scripts are type-checked against @types/k6 (and our declaration of xk6-sse) with their
 * own tsconfig; the root build must not compile them. The last case proves the check can fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const run = (args: string[]) => spawnSync(process.execPath, [tsc, ...args], { cwd: root, encoding: 'utf8' });

describe('k6 scripts', () => {
  it('type-check against @types/k6', () => {
    const r = run(['-p', 'loadtest/k6/tsconfig.json', '--noEmit']);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the check covers every script, and the root build none of them', () => {
    const k6 = run(['-p', 'loadtest/k6/tsconfig.json', '--listFilesOnly']).stdout;
    for (const f of ['chat.ts', 'chat-stream-ttft.ts', 'common.ts', 'sse.d.ts']) expect(k6).toContain(`loadtest/k6/${f}`);
    const rootFiles = run(['-p', 'tsconfig.json', '--listFilesOnly']).stdout;
    expect(rootFiles).toContain('loadtest/generator/serve-command.ts');
    expect(rootFiles).not.toContain('loadtest/k6/');
  });

  it('a script misusing the k6 API fails the check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-k6-'));
    writeFileSync(join(dir, 'bad.ts'), "import http from 'k6/http';\nimport sse from 'k6/x/sse';\nexport default function (): void {\n  http.post(42);\n  sse.open('u', { method: 'PATCH' }, () => {});\n}\n");
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(root, 'loadtest/k6/tsconfig.json'), compilerOptions: { typeRoots: [join(root, 'node_modules/@types')] }, include: ['bad.ts', join(root, 'loadtest/k6/sse.d.ts')] }));
    const r = run(['-p', join(dir, 'tsconfig.json'), '--noEmit']);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/bad\.ts\(4,13\).*number.*string/);
    expect(r.stdout).toMatch(/bad\.ts\(5,.*PATCH/);
  });
});
