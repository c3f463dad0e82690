import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIN_SECRET_BYTES } from './cluster-keys.js';

/**
 * A cluster secret lives in a file (never in argv or the environment: only its path travels).
 * The file holds text — 64 hex digits when Tandem writes it — so that a Kubernetes Secret, a
 * compose secret or `openssl rand -hex 32 > file` all work; surrounding whitespace is ignored.
 */
export function readSecretFile(path: string): { secret: Buffer; warning?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the cluster secret file ${path}: ${(e as Error).message}`);
  }
  const secret = Buffer.from(text.trim(), 'utf8');
  if (secret.length < MIN_SECRET_BYTES) throw new Error(`the cluster secret in ${path} is ${secret.length} bytes; it must be at least ${MIN_SECRET_BYTES} (e.g. openssl rand -hex 32)`);
  // Mounted secrets are often 0644 inside a container that runs one user; worth a word, not a
  // refusal. Group-readable is how Kubernetes gives a Secret to a non-root pod (0440 + fsGroup).
  const mode = statSync(path).mode & 0o777;
  const warning = mode & 0o007 ? `the cluster secret file ${path} is readable by every user (mode ${mode.toString(8)}); chmod 600 it` : undefined;
  return { secret, warning };
}

/**
 * Writes a new random secret (32 bytes as 64 hex digits) to a file only its owner can read (mode
 * 0600), or its owner and group (0640: a metrics key that a scraper in the group must read too).
 */
export function createSecretFile(path: string, mode: 0o600 | 0o640 = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // 'wx': never reuse or follow a file someone else put there; the mode from the first byte.
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, randomBytes(32).toString('hex') + '\n');
  } finally {
    closeSync(fd);
  }
}
