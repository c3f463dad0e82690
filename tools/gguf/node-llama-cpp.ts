/**
 * node-llama-cpp, installed on first use into Tandem's cache (not a dependency of the project):
 * on Linux x64 its optional dependencies add ~640 MB of CUDA and Vulkan builds to every
 * `npm install`, and some of them are missing from registries that mirror npm, which breaks
 * `npm ci`. Only the package and its prebuilt CPU binary for this platform are installed here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tandemHome } from '../../services/common/paths.js';

export const NODE_LLAMA_CPP_VERSION = '3.22.1';

// Untyped on purpose: the package is not installed at compile time. The two users (the bench
// engine and the GGUF test) check what they read from it at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NodeLlamaCpp = any;

function installDir(): string {
  return join(tandemHome(), 'llamacpp', NODE_LLAMA_CPP_VERSION);
}

/** Installs (once) and imports node-llama-cpp; `log` gets one line when it downloads. */
export async function loadNodeLlamaCpp(log: (m: string) => void = () => {}): Promise<NodeLlamaCpp> {
  const dir = installDir();
  const pkg = join(dir, 'node_modules', 'node-llama-cpp', 'package.json');
  if (!existsSync(pkg)) {
    const binary = `@node-llama-cpp/${process.platform}-${process.arch}`;
    log(`[tandem] installing node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (CPU build, ${binary}) into ${dir} (once)`);
    mkdirSync(dir, { recursive: true });
    execFileSync(
      'npm',
      ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--omit=optional', '--ignore-scripts', `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, `${binary}@${NODE_LLAMA_CPP_VERSION}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  }
  const entry = createRequire(pkg).resolve('node-llama-cpp');
  return (await import(pathToFileURL(entry).href)) as NodeLlamaCpp;
}
