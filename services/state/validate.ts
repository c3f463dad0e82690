/**
 * Argument checks shared by both stores, so the memory store refuses exactly what the Redis store
 * refuses. Bad arguments are programming errors: TypeError / RangeError, not store errors.
 */
import { encodeRequest } from './request-codec.js';
import { MAX_TOKEN_ID } from './token-codec.js';
import { isSequenceState, type SequenceState } from './transitions.js';
import {
  MAX_ERROR_LENGTH,
  WORKER_STAGES,
  type CreateSequenceInit,
  type TransitionPatch,
  type WorkerStage,
} from './types.js';

export const MAX_ID_LENGTH = 256;
/** Ids that would collide with the store's own keys (`<prefix>seq:active`). */
const RESERVED_IDS: ReadonlySet<string> = new Set(['active']);
// ':' would let an id collide with another sequence's `:tokens` key; whitespace and control
// characters have no business in an id and make keys unreadable in redis-cli.
const ID_FORBIDDEN = /[:\s\p{Cc}]/u;

export function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new TypeError(`sequence id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  }
  if (ID_FORBIDDEN.test(id)) throw new TypeError(`sequence id ${JSON.stringify(id)} contains ':', whitespace or a control character`);
  if (RESERVED_IDS.has(id)) throw new TypeError(`sequence id ${JSON.stringify(id)} is reserved`);
}

function checkTime(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer number of milliseconds, got ${String(value)}`);
  }
}

function checkCount(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
}

export function checkState(name: string, value: unknown): asserts value is SequenceState {
  if (!isSequenceState(value)) throw new TypeError(`${name} is not a sequence state: ${String(value)}`);
}

export function checkDeadline(deadlineMs: unknown): asserts deadlineMs is number {
  checkTime('deadlineMs', deadlineMs);
}

/** Validated create arguments with `nowMs` filled in and the request in its stored form. */
export function normalizeCreate(init: CreateSequenceInit): Required<Omit<CreateSequenceInit, 'request'>> & { requestJson?: string } {
  checkId(init.id);
  checkCount('promptTokens', init.promptTokens);
  checkDeadline(init.deadlineMs);
  const nowMs = init.nowMs ?? Date.now();
  checkTime('nowMs', nowMs);
  const out = { id: init.id, promptTokens: init.promptTokens, deadlineMs: init.deadlineMs, nowMs };
  return init.request === undefined ? out : { ...out, requestJson: encodeRequest(init.request) };
}

export interface NormalizedPatch {
  workers: Partial<Record<WorkerStage, string>>;
  generatedTokens?: number;
  error?: string;
  expectedAttempt?: number;
  nowMs: number;
}

export function normalizePatch(patch: TransitionPatch | undefined): NormalizedPatch {
  const nowMs = patch?.nowMs ?? Date.now();
  checkTime('nowMs', nowMs);
  const out: NormalizedPatch = { workers: {}, nowMs };
  for (const [stage, worker] of Object.entries(patch?.workers ?? {})) {
    if (!(WORKER_STAGES as readonly string[]).includes(stage)) throw new TypeError(`unknown worker stage ${stage}`);
    if (worker === undefined) continue;
    if (typeof worker !== 'string' || worker.length === 0 || /\p{Cc}/u.test(worker)) {
      throw new TypeError(`worker id for stage ${stage} must be a non-empty string without control characters`);
    }
    out.workers[stage as WorkerStage] = worker;
  }
  if (patch?.generatedTokens !== undefined) {
    checkCount('generatedTokens', patch.generatedTokens);
    out.generatedTokens = patch.generatedTokens;
  }
  if (patch?.expectedAttempt !== undefined) {
    checkCount('expectedAttempt', patch.expectedAttempt);
    out.expectedAttempt = patch.expectedAttempt;
  }
  if (patch?.error !== undefined) {
    if (typeof patch.error !== 'string') throw new TypeError('error must be a string');
    out.error = patch.error.slice(0, MAX_ERROR_LENGTH);
  }
  return out;
}


export function checkCheckpoint(from: unknown, tokens: readonly number[]): void {
  checkCount('from', from);
  if (!Array.isArray(tokens)) throw new TypeError('tokens must be an array of token ids');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MAX_TOKEN_ID) {
      throw new RangeError(`token at index ${i} is not a uint32 token id: ${String(t)}`);
    }
  }
}

export function checkExpiredArgs(nowMs: unknown, limit: unknown): void {
  if (typeof nowMs !== 'number' || Number.isNaN(nowMs)) throw new RangeError(`nowMs must be a number, got ${String(nowMs)}`);
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${String(limit)}`);
  }
}
