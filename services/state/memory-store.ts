/**
 * In-process SequenceStore for a single-node deployment and for tests. Every method does its
 * check-and-set synchronously (no await in between), which is what makes it atomic on the one
 * JavaScript thread. Terminal records expire after terminalTtlMs of wall-clock time (`clock`),
 * purged lazily at the start of every call.
 */
import {
  DuplicateSequenceError,
  IllegalTransitionError,
  SequenceNotActiveError,
  SequenceNotFoundError,
  SequenceStoreError,
  TokenCheckpointError,
} from './errors.js';
import { decodeRequest } from './request-codec.js';
import { isLegalTransition, isTerminalState, startsNewAttempt, type SequenceState } from './transitions.js';
import {
  DEFAULT_EXPIRED_LIMIT,
  DEFAULT_TERMINAL_TTL_MS,
  type CreateSequenceInit,
  type SequenceRecord,
  type SequenceSnapshot,
  type SequenceStore,
  type SequenceStoreOptions,
  type TransitionPatch,
} from './types.js';
import {
  checkCheckpoint,
  checkDeadline,
  checkExpiredArgs,
  checkId,
  checkState,
  normalizeCreate,
  normalizePatch,
} from './validate.js';

export interface MemorySequenceStoreOptions extends SequenceStoreOptions {
  /** Wall clock used for terminal-record expiry (not for record timestamps). Default Date.now. */
  clock?: () => number;
}

interface Entry {
  record: SequenceRecord;
  tokens: number[];
  /** The request in its stored form (request-codec.ts), as the Redis store keeps it. */
  requestJson?: string;
}

/** Byte-wise comparison of the UTF-8 forms, the order Redis uses for equal sorted-set scores. */
function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class MemorySequenceStore implements SequenceStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly active = new Set<string>();
  /** id → expiry time of terminal records; with one TTL per store, insertion order is expiry order. */
  private readonly expiries = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly clock: () => number;
  private closed = false;

  /** `keyPrefix` is accepted for symmetry with the Redis store and has no effect here. */
  constructor(options: MemorySequenceStoreOptions = {}) {
    this.ttlMs = options.terminalTtlMs ?? DEFAULT_TERMINAL_TTL_MS;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs <= 0) throw new RangeError('terminalTtlMs must be a positive integer');
    this.clock = options.clock ?? Date.now;
  }

  async create(init: CreateSequenceInit): Promise<SequenceRecord> {
    const { id, promptTokens, deadlineMs, nowMs, requestJson } = normalizeCreate(init);
    this.enter();
    if (this.entries.has(id)) throw new DuplicateSequenceError(id);
    const record: SequenceRecord = {
      id,
      state: 'queued',
      attempt: 1,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
      deadlineMs,
      stateTimes: { queued: nowMs },
      workers: {},
      promptTokens,
      generatedTokens: 0,
      history: ['queued'],
    };
    this.entries.set(id, { record, tokens: [], requestJson });
    this.active.add(id);
    return structuredClone(record);
  }

  async transition(id: string, from: SequenceState, to: SequenceState, patch?: TransitionPatch): Promise<SequenceRecord> {
    checkId(id);
    checkState('from', from);
    checkState('to', to);
    const p = normalizePatch(patch);
    const record = this.entry(id).record;
    if (record.state !== from || !isLegalTransition(from, to)) throw new IllegalTransitionError(id, record.state, from, to);
    if (p.expectedAttempt !== undefined && p.expectedAttempt !== record.attempt) {
      throw new IllegalTransitionError(id, record.state, from, to, { actual: record.attempt, expected: p.expectedAttempt });
    }
    if (startsNewAttempt(from, to)) record.attempt += 1;
    record.state = to;
    record.updatedAtMs = p.nowMs;
    record.stateTimes[to] = p.nowMs;
    record.history.push(to);
    Object.assign(record.workers, p.workers);
    if (p.generatedTokens !== undefined) record.generatedTokens = p.generatedTokens;
    if (p.error !== undefined) record.error = p.error;
    if (isTerminalState(to)) {
      this.active.delete(id);
      this.expiries.set(id, this.clock() + this.ttlMs);
    }
    return structuredClone(record);
  }

  async get(id: string): Promise<SequenceRecord | undefined> {
    checkId(id);
    this.enter();
    const entry = this.entries.get(id);
    return entry === undefined ? undefined : structuredClone(entry.record);
  }

  async checkpointTokens(id: string, from: number, tokens: readonly number[]): Promise<void> {
    checkId(id);
    checkCheckpoint(from, tokens);
    const entry = this.entry(id);
    if (isTerminalState(entry.record.state)) throw new SequenceNotActiveError(id, entry.record.state, 'checkpoint tokens');
    const stored = entry.tokens;
    if (from > stored.length) {
      throw new TokenCheckpointError(id, 'gap', `checkpoint starts at ${from} but only ${stored.length} tokens are stored`);
    }
    const overlap = Math.min(stored.length, from + tokens.length) - from;
    for (let i = 0; i < overlap; i++) {
      if (stored[from + i] !== tokens[i]) {
        throw new TokenCheckpointError(id, 'conflict', `token ${from + i} is stored as ${stored[from + i]}, checkpoint has ${tokens[i]}`);
      }
    }
    for (let i = overlap; i < tokens.length; i++) stored.push(tokens[i]!);
    if (entry.record.generatedTokens < stored.length) entry.record.generatedTokens = stored.length;
  }

  async getTokens(id: string): Promise<number[]> {
    checkId(id);
    return this.entry(id).tokens.slice();
  }

  async snapshot(id: string): Promise<SequenceSnapshot | undefined> {
    checkId(id);
    this.enter();
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    const snap: SequenceSnapshot = { record: structuredClone(entry.record), tokens: entry.tokens.slice() };
    if (entry.requestJson !== undefined) snap.request = decodeRequest(id, entry.requestJson);
    return snap;
  }

  async expired(nowMs: number, limit: number = DEFAULT_EXPIRED_LIMIT): Promise<string[]> {
    checkExpiredArgs(nowMs, limit);
    this.enter();
    const due: SequenceRecord[] = [];
    for (const id of this.active) {
      const record = this.entries.get(id)!.record;
      if (record.deadlineMs <= nowMs) due.push(record);
    }
    due.sort((a, b) => a.deadlineMs - b.deadlineMs || compareIds(a.id, b.id));
    return due.slice(0, limit).map((r) => r.id);
  }

  async extendDeadline(id: string, deadlineMs: number): Promise<void> {
    checkId(id);
    checkDeadline(deadlineMs);
    const record = this.entry(id).record;
    if (isTerminalState(record.state)) throw new SequenceNotActiveError(id, record.state, 'extend its deadline');
    if (deadlineMs > record.deadlineMs) record.deadlineMs = deadlineMs;
  }

  /** Remaining lifetime of a terminal record in ms; null while it is active; undefined if absent. */
  async remainingTtlMs(id: string): Promise<number | null | undefined> {
    this.enter();
    if (!this.entries.has(id)) return undefined;
    const expiry = this.expiries.get(id);
    return expiry === undefined ? null : Math.max(0, expiry - this.clock());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.entries.clear();
    this.active.clear();
    this.expiries.clear();
  }

  /** Common prologue: refuse use after close, drop expired terminal records. */
  private enter(): void {
    if (this.closed) throw new SequenceStoreError('sequence store is closed');
    const now = this.clock();
    for (const [id, expiry] of this.expiries) {
      if (expiry > now) break;
      this.expiries.delete(id);
      this.entries.delete(id);
    }
  }

  private entry(id: string): Entry {
    this.enter();
    const entry = this.entries.get(id);
    if (entry === undefined) throw new SequenceNotFoundError(id);
    return entry;
  }
}
