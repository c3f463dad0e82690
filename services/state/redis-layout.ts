/**
 * Redis key and field layout of the sequence store (DESIGN §6). With the default prefix:
 *
 *   tandem:seq:<id>          hash    one per sequence (fields below)
 *   tandem:seq:<id>:tokens   string  checkpointed generated token ids, packed uint32 LE (token-codec.ts)
 *   tandem:seq:<id>:request  string  the request as JSON (request-codec.ts), written once at create
 *   tandem:seq:active        zset    ids of non-terminal sequences, score = deadlineMs
 *
 * Hash fields: id, state, attempt, createdAtMs, updatedAtMs, deadlineMs, promptTokens,
 * generatedTokens, error (only once set), history (one letter per state entered, see
 * STATE_CODES: 'qptdf' = queued → prefilling → transferring → decoding → finished),
 * t:<state> (ms when that state was last entered), w:<stage> (worker id per stage), and op (id
 * of the last write, so a command re-sent by the client after a lost reply is recognised and not
 * applied twice), ver (raised by every write), and with the at-rest key tag:<from>:<n> (one per
 * token checkpoint) and mac (the record tag over every other field: record-effects.ts,
 * at-rest.ts). Numbers are stored as decimal strings.
 *
 * The record, its tokens and its request expire together once the sequence is terminal.
 *
 * The keys of one sequence are not hash-tagged: this targets a single Redis (or a
 * Sentinel-managed primary), not Redis Cluster.
 */
import { SEQUENCE_STATES, type SequenceState } from './transitions.js';
import type { WorkerStage } from './types.js';

export interface RedisKeys {
  record(id: string): string;
  tokens(id: string): string;
  request(id: string): string;
  readonly active: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    record: (id) => `${prefix}seq:${id}`,
    tokens: (id) => `${prefix}seq:${id}:tokens`,
    request: (id) => `${prefix}seq:${id}:request`,
    active: `${prefix}seq:active`,
  };
}

/** One letter per state for the compact `history` field. */
export const STATE_CODES: Readonly<Record<SequenceState, string>> = {
  queued: 'q',
  encoding: 'e',
  prefilling: 'p',
  transferring: 't',
  decoding: 'd',
  finished: 'f',
  failed: 'x',
  cancelled: 'c',
};

export const CODE_STATES: ReadonlyMap<string, SequenceState> = new Map(
  SEQUENCE_STATES.map((s) => [STATE_CODES[s], s] as const),
);

export const stateTimeField = (state: SequenceState): string => `t:${state}`;
export const workerField = (stage: WorkerStage): string => `w:${stage}`;
