/**
 * What each write script (redis-scripts.ts) does to a sequence record's hash, mirrored in
 * TypeScript so that the store can sign the record it is about to produce: with the at-rest key
 * it reads the record, predicts the hash the script leaves, tags that (AtRestCipher.recordTag)
 * and hands the script the tag with a compare-and-set on the record's version (`ver`, raised by
 * every write). The script then writes fields and tag in one atomic step, or answers 'moved'
 * when the record changed since the read (the store reads and tries again). Only the success
 * paths are mirrored: a refused write changes nothing and its tag is never stored.
 */
import { STATE_CODES } from './redis-layout.js';
import { edgeKind, type SequenceState } from './transitions.js';

export type RecordHash = Readonly<Record<string, string>>;

const nextVer = (h: RecordHash): string => String((Number(h.ver) || 0) + 1);

/** CREATE_SCRIPT on a fresh id. */
export function afterCreate(a: { id: string; op: string; nowMs: string; deadlineMs: string; promptTokens: string }): Record<string, string> {
  return {
    id: a.id, state: 'queued', attempt: '1', createdAtMs: a.nowMs, updatedAtMs: a.nowMs, deadlineMs: a.deadlineMs,
    promptTokens: a.promptTokens, generatedTokens: '0', history: STATE_CODES.queued, 't:queued': a.nowMs, op: a.op, ver: '1',
  };
}

/** TRANSITION_SCRIPT moving `from` → `to` (a legal edge, from the current state). */
export function afterTransition(h: RecordHash, a: { op: string; to: SequenceState; from: SequenceState; nowMs: string; patch: readonly string[] }): Record<string, string> {
  const out: Record<string, string> = { ...h };
  if (edgeKind(a.from, a.to) === 'retry') out.attempt = String((Number(h.attempt) || 0) + 1);
  Object.assign(out, { state: a.to, updatedAtMs: a.nowMs, [`t:${a.to}`]: a.nowMs, history: (h.history ?? '') + STATE_CODES[a.to], op: a.op });
  for (let i = 0; i + 1 < a.patch.length; i += 2) out[a.patch[i]!] = a.patch[i + 1]!;
  out.ver = nextVer(h);
  return out;
}

/** CHECKPOINT_SCRIPT storing `n` tokens at index `from` when `have` were stored. */
export function afterCheckpoint(h: RecordHash, a: { from: number; n: number; have: number; tag: string }): Record<string, string> {
  const out: Record<string, string> = { ...h };
  if (a.tag !== '' && a.n > 0) out[`tag:${a.from}:${a.n}`] = a.tag;
  const total = Math.max(a.have, a.from + a.n);
  if ((Number(h.generatedTokens) || 0) < total) out.generatedTokens = String(total);
  out.ver = nextVer(h);
  return out;
}

/** EXTEND_SCRIPT: the deadline moves later, never earlier. */
export function afterExtend(h: RecordHash, deadlineMs: string): Record<string, string> {
  const out: Record<string, string> = { ...h };
  if (Number(deadlineMs) > Number(h.deadlineMs)) out.deadlineMs = deadlineMs;
  out.ver = nextVer(h);
  return out;
}

/**
 * The fields a record tag covers: every field but the tag itself and the checkpoints' token tags
 * (`tag:<from>:<n>`, which carry their own), in one unambiguous order.
 */
export function signedFields(h: RecordHash): string {
  return JSON.stringify(Object.entries(h).filter(([f]) => f !== 'mac' && !f.startsWith('tag:')).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
