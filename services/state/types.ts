import type { PromptImage } from '../protocol/prompt-image.js';
import type { SamplingParams } from '../protocol/request.js';
import type { SequenceState } from './transitions.js';

export type { SequenceState } from './transitions.js';

/** The stages a sequence can be assigned a worker for. */
export type WorkerStage = 'vision' | 'prefill' | 'decode';

export const WORKER_STAGES: readonly WorkerStage[] = ['vision', 'prefill', 'decode'];

export interface SequenceRecord {
  id: string;
  state: SequenceState;
  /** 1 for the first try; +1 on every prefill retry and every decode migration. */
  attempt: number;
  createdAtMs: number;
  /** Time of the last state change (token checkpoints and deadline heartbeats do not count). */
  updatedAtMs: number;
  deadlineMs: number;
  /** ms timestamp of entering each state (last time) */
  stateTimes: Partial<Record<SequenceState, number>>;
  /** worker id per stage (vision, prefill, decode) */
  workers: Partial<Record<WorkerStage, string>>;
  promptTokens: number;
  generatedTokens: number;
  error?: string;
  /** the path taken, e.g. ['queued','prefilling','transferring','decoding','finished'] */
  history: SequenceState[];
}

/**
 * What it takes to run a sequence again without the router that started it (a router restart
 * or fail-over): the prompt, the sampling settings with the seed pinned (the engine's RNG is a
 * function of seed and output position, so this is the whole sampling state), the stop/EOS ids
 * and max tokens. With the checkpointed tokens this continues the output bit for bit. Written
 * once, at create; images keep their placement and mm_hash, not their pixels.
 */
export interface SequenceRequest {
  promptTokenIds: number[];
  sampling: SamplingParams;
  /** The gateway's EOS ids; empty: the worker's model card's. */
  eosTokenIds: number[];
  cacheSalt?: string;
  images?: Array<Omit<PromptImage, 'pixels' | 'embeddings'>>;
  /** Structured output's grammar text: a resumed sequence replays its tokens through it. */
  grammar?: string;
}

/** A sequence as a resumer reads it, in one atomic read: record, request and checkpointed tokens. */
export interface SequenceSnapshot {
  record: SequenceRecord;
  /** Absent when the sequence was created without it (it cannot be resumed by another router). */
  request?: SequenceRequest;
  tokens: number[];
}

export interface CreateSequenceInit {
  id: string;
  promptTokens: number;
  deadlineMs: number;
  nowMs?: number;
  /** Stored beside the record (and expired with it), read back by snapshot(). */
  request?: SequenceRequest;
}

export interface TransitionPatch {
  /** Merged into the record's workers (stages not named keep their worker). */
  workers?: Partial<Record<WorkerStage, string>>;
  generatedTokens?: number;
  /** Stored as is (capped at MAX_ERROR_LENGTH characters); kept until overwritten. */
  error?: string;
  nowMs?: number;
  /**
   * Compare-and-set on the attempt too: refuse (IllegalTransitionError, reason 'stale-attempt')
   * unless the record's attempt equals this. The state alone cannot tell two racing retries of
   * the prefilling → prefilling self-loop apart (both see `prefilling`, both would win), so
   * callers that retry pass the attempt they observed.
   */
  expectedAttempt?: number;
}

/**
 * Sequence state behind one interface. Writes are O(stages) per request: one `create`, one
 * `transition` per stage change, and `checkpointTokens`, which is the only write driven by
 * generation progress and which callers batch (every N tokens, never per token).
 */
export interface SequenceStore {
  readonly kind: 'memory' | 'redis';
  /** Refuses an id that already exists (DuplicateSequenceError), even a terminal one not yet expired. */
  create(init: CreateSequenceInit): Promise<SequenceRecord>;
  /**
   * Atomic from → to; throws IllegalTransitionError (naming id, actual state, requested move) if
   * the current state is not `from` or the move is illegal, SequenceNotFoundError if there is no
   * such sequence. `patch` is applied in the same atomic step. Entering a terminal state sets a
   * TTL on the record and its tokens (terminalTtlMs) and removes it from the active set.
   */
  transition(id: string, from: SequenceState, to: SequenceState, patch?: TransitionPatch): Promise<SequenceRecord>;
  get(id: string): Promise<SequenceRecord | undefined>;
  /**
   * Stores generated token ids starting at index `from`. Idempotent: re-sending an already
   * stored range (or one that overlaps it and extends it) is fine; a gap (`from` beyond the
   * stored length) or an overwrite with different ids throws TokenCheckpointError. Raises the
   * record's generatedTokens to the stored length if it was lower. Refused once the sequence is
   * terminal (SequenceNotActiveError). Called every N tokens, never per token.
   */
  checkpointTokens(id: string, from: number, tokens: readonly number[]): Promise<void>;
  /** The checkpointed token ids; SequenceNotFoundError if the sequence does not exist. */
  getTokens(id: string): Promise<number[]>;
  /**
   * Record, stored request and checkpointed tokens read together (one atomic read), for a router
   * that resumes a sequence it did not start; undefined if there is no such sequence.
   */
  snapshot(id: string): Promise<SequenceSnapshot | undefined>;
  /**
   * Ids of active (non-terminal) sequences whose deadline is <= nowMs, oldest deadline first
   * (ties by id), at most `limit` (default DEFAULT_EXPIRED_LIMIT) — for the orphan sweeper.
   */
  expired(nowMs: number, limit?: number): Promise<string[]>;
  /**
   * Pushes a live sequence's deadline out (heartbeat). Never pulls it in: a deadline earlier than
   * the current one is ignored, so heartbeats arriving out of order are harmless.
   */
  extendDeadline(id: string, deadlineMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface SequenceStoreOptions {
  /** Prefix of every key (Redis) — tests use their own to stay isolated. Default `tandem:`. */
  keyPrefix?: string;
  /** How long a terminal record (and its tokens) is kept. Default 1 h. */
  terminalTtlMs?: number;
}

export const DEFAULT_KEY_PREFIX = 'tandem:';
export const DEFAULT_TERMINAL_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_EXPIRED_LIMIT = 100;
export const MAX_ERROR_LENGTH = 4096;
