/**
 * SequenceStore on Redis (layout in redis-layout.ts). Every write is one Lua script run by SHA
 * (redis-scripts.ts, redis-script.ts); reads are single commands. Per request that is one create,
 * one transition per stage change, and the caller-batched token checkpoints: O(stages) writes,
 * never one per token.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  DuplicateSequenceError,
  IllegalTransitionError,
  SequenceNotActiveError,
  SequenceNotFoundError,
  SequenceStoreError,
  SequenceTamperedError,
  TokenCheckpointError,
} from './errors.js';
import { afterCheckpoint, afterCreate, afterExtend, afterTransition, signedFields, type RecordHash } from './record-effects.js';
import { connectRedis, type RedisConnectionOptions } from './redis-connection.js';
import { redisKeys, workerField, type RedisKeys } from './redis-layout.js';
import { decodeRecord, pairsToObject } from './redis-record-codec.js';
import { LuaScript, type ScriptArg } from './redis-script.js';
import { CHECKPOINT_SCRIPT, CREATE_SCRIPT, EXTEND_SCRIPT, TRANSITION_SCRIPT } from './redis-scripts.js';
import { decodeRequest } from './request-codec.js';
import { AtRestCipher } from './at-rest.js';
import { BYTES_PER_TOKEN, packTokens, unpackTokens } from './token-codec.js';
import { isSequenceState, type SequenceState } from './transitions.js';
import {
  DEFAULT_EXPIRED_LIMIT,
  DEFAULT_KEY_PREFIX,
  DEFAULT_TERMINAL_TTL_MS,
  type CreateSequenceInit,
  type SequenceRecord,
  type SequenceSnapshot,
  type SequenceStore,
  type SequenceStoreOptions,
  type TransitionPatch,
  type WorkerStage,
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

const SCRIPTS = {
  create: new LuaScript('create', CREATE_SCRIPT),
  transition: new LuaScript('transition', TRANSITION_SCRIPT),
  checkpoint: new LuaScript('checkpoint', CHECKPOINT_SCRIPT),
  extend: new LuaScript('extend', EXTEND_SCRIPT),
} as const;

export interface RedisSequenceStoreOptions extends SequenceStoreOptions {
  /** close() quits the client. Default false for a client passed in, true for connect(). */
  ownsClient?: boolean;
  /**
   * 32-byte key (the cluster's state key): stored requests and checkpointed tokens are encrypted
   * with it (at-rest.ts), so Redis never holds a prompt or an output in clear. Absent: in clear.
   */
  atRestKey?: Buffer;
  /**
   * With the at-rest key only: a read dropped checkpointed tokens whose tags do not check out
   * (`kind` 'tokens'), or refused a record whose fields' tag does not (`kind` 'record').
   */
  onTamper?: (id: string, what: string, kind: 'tokens' | 'record') => void;
}

type Reply = [status: string, ...rest: unknown[]];

function asReply(raw: unknown, script: string): Reply {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') {
    throw new SequenceStoreError(`unexpected reply from the ${script} script: ${JSON.stringify(raw)}`);
  }
  return raw as Reply;
}

function scoreArg(n: number): string {
  return n === Infinity ? '+inf' : n === -Infinity ? '-inf' : String(n);
}

export class RedisSequenceStore implements SequenceStore {
  readonly kind = 'redis' as const;
  readonly keys: RedisKeys;
  private readonly ttlMs: number;
  private readonly ownsClient: boolean;
  private readonly cipher: AtRestCipher | undefined;
  private readonly onTamper: ((id: string, what: string, kind: 'tokens' | 'record') => void) | undefined;
  private closed = false;

  constructor(
    readonly client: Redis,
    options: RedisSequenceStoreOptions = {},
  ) {
    this.keys = redisKeys(options.keyPrefix ?? DEFAULT_KEY_PREFIX);
    this.ttlMs = options.terminalTtlMs ?? DEFAULT_TERMINAL_TTL_MS;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs <= 0) throw new RangeError('terminalTtlMs must be a positive integer');
    this.ownsClient = options.ownsClient ?? false;
    this.cipher = options.atRestKey ? new AtRestCipher(options.atRestKey) : undefined;
    this.onTamper = options.onTamper;
  }

  /** Connects (see redis-connection.ts for the reconnect policy) and owns the client. */
  static async connect(url: string, options: RedisSequenceStoreOptions & RedisConnectionOptions = {}): Promise<RedisSequenceStore> {
    const client = await connectRedis(url, options);
    return new RedisSequenceStore(client, { ...options, ownsClient: options.ownsClient ?? true });
  }

  async create(init: CreateSequenceInit): Promise<SequenceRecord> {
    const { id, promptTokens, deadlineMs, nowMs, requestJson } = normalizeCreate(init);
    const op = randomUUID();
    const fields = { id, op, nowMs: String(nowMs), deadlineMs: String(deadlineMs), promptTokens: String(promptTokens) };
    const reply = await this.run(SCRIPTS.create, [this.keys.record(id), this.keys.tokens(id), this.keys.active, this.keys.request(id)], [
      id,
      op,
      fields.nowMs,
      fields.deadlineMs,
      fields.promptTokens,
      requestJson === undefined ? '' : this.cipher ? this.cipher.sealRequest(id, requestJson) : requestJson,
      this.tagOf(id, afterCreate(fields)),
    ]);
    if (reply[0] === 'duplicate') throw new DuplicateSequenceError(id);
    return this.okRecord(reply, 'create');
  }

  async transition(id: string, from: SequenceState, to: SequenceState, patch?: TransitionPatch): Promise<SequenceRecord> {
    checkId(id);
    checkState('from', from);
    checkState('to', to);
    const p = normalizePatch(patch);
    const fields: string[] = [];
    for (const [stage, worker] of Object.entries(p.workers)) fields.push(workerField(stage as WorkerStage), worker);
    if (p.generatedTokens !== undefined) fields.push('generatedTokens', String(p.generatedTokens));
    if (p.error !== undefined) fields.push('error', p.error);
    const op = randomUUID();
    const reply = await this.signedWrite(id, false, (hash) => this.run(SCRIPTS.transition, [this.keys.record(id), this.keys.tokens(id), this.keys.active, this.keys.request(id)], [
      id,
      op,
      from,
      to,
      String(p.nowMs),
      String(this.ttlMs),
      p.expectedAttempt === undefined ? '' : String(p.expectedAttempt),
      ...this.casArgs(id, hash, (h) => afterTransition(h, { op, from, to, nowMs: String(p.nowMs), patch: fields })),
      ...fields,
    ]));
    if (reply[0] === 'missing') throw new SequenceNotFoundError(id);
    if (reply[0] === 'conflict') throw new IllegalTransitionError(id, this.replyState(reply[1]), from, to);
    if (reply[0] === 'stale') {
      const attempt = { actual: Number(reply[2]), expected: p.expectedAttempt! };
      throw new IllegalTransitionError(id, this.replyState(reply[1]), from, to, attempt);
    }
    return this.okRecord(reply, 'transition');
  }

  async get(id: string): Promise<SequenceRecord | undefined> {
    checkId(id);
    this.checkOpen();
    const hash = await this.client.hgetall(this.keys.record(id));
    return Object.keys(hash).length === 0 ? undefined : decodeRecord(this.verified(id, hash));
  }

  async checkpointTokens(id: string, from: number, tokens: readonly number[]): Promise<void> {
    checkId(id);
    checkCheckpoint(from, tokens);
    const packed = packTokens(tokens);
    const data = this.cipher ? this.cipher.tokens(id, from * BYTES_PER_TOKEN, packed) : packed;
    const tag = this.cipher ? this.cipher.tokensTag(id, from * BYTES_PER_TOKEN, data) : '';
    const reply = await this.signedWrite(id, true, (hash, have) =>
      this.run(SCRIPTS.checkpoint, [this.keys.record(id), this.keys.tokens(id)], [String(from), data, tag, ...this.casArgs(id, hash, (h) => afterCheckpoint(h, { from, n: tokens.length, have, tag }))]),
    );
    switch (reply[0]) {
      case 'ok':
        return;
      case 'missing':
        throw new SequenceNotFoundError(id);
      case 'inactive':
        throw new SequenceNotActiveError(id, this.replyState(reply[1]), 'checkpoint tokens');
      case 'gap':
        throw new TokenCheckpointError(id, 'gap', `checkpoint starts at ${from} but only ${String(reply[1])} tokens are stored`);
      case 'conflict': {
        const index = Number(reply[1]);
        throw new TokenCheckpointError(
          id,
          'conflict',
          `token ${index} is stored as ${String(this.storedToken(id, index, Number(reply[2])))}, checkpoint has ${String(tokens[index - from])}`,
        );
      }
      default:
        throw new SequenceStoreError(`unexpected reply from the checkpoint script: ${JSON.stringify(reply)}`);
    }
  }

  async getTokens(id: string): Promise<number[]> {
    checkId(id);
    this.checkOpen();
    const results = await this.client.multi().hgetall(this.keys.record(id)).getBuffer(this.keys.tokens(id)).exec();
    if (results === null) throw new SequenceStoreError(`sequence ${id}: token read aborted`);
    const [[hashErr, hash], [tokensErr, packed]] = results as [[Error | null, Record<string, string>], [Error | null, Buffer | null]];
    if (hashErr !== null) throw hashErr;
    if (tokensErr !== null) throw tokensErr;
    if (Object.keys(hash).length === 0) throw new SequenceNotFoundError(id);
    this.verified(id, hash);
    return packed === null ? [] : this.unpack(id, packed, hash);
  }

  async snapshot(id: string): Promise<SequenceSnapshot | undefined> {
    checkId(id);
    this.checkOpen();
    const results = await this.client.multi().hgetall(this.keys.record(id)).get(this.keys.request(id)).getBuffer(this.keys.tokens(id)).exec();
    if (results === null) throw new SequenceStoreError(`sequence ${id}: snapshot read aborted`);
    for (const [err] of results) if (err !== null) throw err;
    const [hash, request, packed] = results.map(([, value]) => value) as [Record<string, string>, string | null, Buffer | null];
    if (Object.keys(hash).length === 0) return undefined;
    this.verified(id, hash);
    const snap: SequenceSnapshot = { record: decodeRecord(hash), tokens: packed === null ? [] : this.unpack(id, packed, hash) };
    if (request !== null) snap.request = decodeRequest(id, this.cipher ? this.cipher.openRequest(id, request) : request);
    return snap;
  }

  async expired(nowMs: number, limit: number = DEFAULT_EXPIRED_LIMIT): Promise<string[]> {
    checkExpiredArgs(nowMs, limit);
    this.checkOpen();
    // Equal scores come back in byte order of the member, i.e. ties are broken by id.
    return await this.client.zrangebyscore(this.keys.active, '-inf', scoreArg(nowMs), 'LIMIT', 0, limit);
  }

  async extendDeadline(id: string, deadlineMs: number): Promise<void> {
    checkId(id);
    checkDeadline(deadlineMs);
    const reply = await this.signedWrite(id, false, (hash) =>
      this.run(SCRIPTS.extend, [this.keys.record(id), this.keys.active], [id, String(deadlineMs), ...this.casArgs(id, hash, (h) => afterExtend(h, String(deadlineMs)))]),
    );
    if (reply[0] === 'missing') throw new SequenceNotFoundError(id);
    if (reply[0] === 'inactive') throw new SequenceNotActiveError(id, this.replyState(reply[1]), 'extend its deadline');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsClient || this.client.status === 'end') return;
    if (this.client.status === 'ready') {
      // QUIT lets queued replies arrive first; bounded so close() never hangs on a dead server.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
      await Promise.race([this.client.quit().then(() => undefined, () => undefined), timeout]);
      clearTimeout(timer);
    }
    this.client.disconnect();
  }

  private checkOpen(): void {
    if (this.closed) throw new SequenceStoreError('sequence store is closed');
  }

  /**
   * A write that, with the at-rest key, signs the record it leaves: reads the record (and, for a
   * checkpoint, how many tokens are stored), refuses one whose tag does not check out, runs the
   * write with the version it read and the tag of the hash it will leave, and reads again when the
   * script answers that the record moved meanwhile. Without the key: the write alone.
   */
  private async signedWrite(id: string, withTokens: boolean, write: (hash: RecordHash | undefined, have: number) => Promise<Reply>): Promise<Reply> {
    if (!this.cipher) return write(undefined, 0);
    for (let tries = 0; ; tries++) {
      this.checkOpen();
      const m = this.client.multi().hgetall(this.keys.record(id));
      if (withTokens) m.strlen(this.keys.tokens(id));
      const results = await m.exec();
      if (results === null) throw new SequenceStoreError(`sequence ${id}: record read aborted`);
      for (const [err] of results) if (err !== null) throw err;
      const hash = results[0]![1] as Record<string, string>;
      const have = withTokens ? Number(results[1]![1]) / BYTES_PER_TOKEN : 0;
      const exists = Object.keys(hash).length > 0;
      if (exists) this.verified(id, hash);
      const reply = await write(exists ? hash : undefined, have);
      if (reply[0] !== 'moved') return reply;
      if (tries >= 16) throw new SequenceStoreError(`sequence ${id}: the record kept changing during a write (${tries + 1} tries)`);
    }
  }

  /** Expected version and tag of the hash `effect` leaves, for a script (['', ''] without the key). */
  private casArgs(id: string, hash: RecordHash | undefined, effect: (h: RecordHash) => Record<string, string>): [string, string] {
    // No record: the script answers 'missing' before it looks at these; 'none' matches no version.
    if (!this.cipher) return ['', ''];
    if (!hash) return ['none', ''];
    return [hash.ver ?? 'none', this.tagOf(id, effect(hash))];
  }

  private tagOf(id: string, hash: RecordHash): string {
    return this.cipher ? this.cipher.recordTag(id, signedFields(hash)) : '';
  }

  /** The hash, when its tag checks out (or the store has no key); else counted and refused. */
  private verified(id: string, hash: Record<string, string>): Record<string, string> {
    if (!this.cipher) return hash;
    if (hash.mac !== undefined && hash.mac === this.tagOf(id, hash)) return hash;
    this.onTamper?.(id, hash.mac === undefined ? 'the record has no tag' : 'the record\'s fields do not match their tag', 'record');
    throw new SequenceTamperedError(id);
  }

  private async run(script: LuaScript, keys: string[], args: ScriptArg[]): Promise<Reply> {
    this.checkOpen();
    return asReply(await script.run(this.client, keys, args), script.name);
  }

  /**
   * Stored token bytes (from offset 0) to ids, decrypted when the store encrypts — and then only
   * the prefix that checkpoints with good tags cover (the record's `tag:<from>:<n>` fields): bytes
   * changed, appended or tagged by anyone without the at-rest key are dropped (and reported), so a
   * resume never continues from tokens the router did not write.
   */
  private unpack(id: string, packed: Buffer, hash: Readonly<Record<string, string>>): number[] {
    if (!this.cipher) return unpackTokens(packed);
    const chunks: Array<{ from: number; n: number; tag: string }> = [];
    for (const [field, tag] of Object.entries(hash)) {
      const m = /^tag:(\d+):(\d+)$/.exec(field);
      if (m) chunks.push({ from: Number(m[1]), n: Number(m[2]), tag });
    }
    chunks.sort((a, b) => a.from - b.from || b.n - a.n);
    let covered = 0;
    for (const c of chunks) {
      const [start, end] = [c.from * BYTES_PER_TOKEN, (c.from + c.n) * BYTES_PER_TOKEN];
      if (c.from > covered || end > packed.length || (c.from + c.n) <= covered) continue;
      if (this.cipher.tokensTag(id, start, packed.subarray(start, end)) === c.tag) covered = c.from + c.n;
    }
    const stored = packed.length / BYTES_PER_TOKEN;
    if (covered < stored) this.onTamper?.(id, `${stored - covered} of ${stored} checkpointed tokens have no valid tag; resuming from the first ${covered}`, 'tokens');
    return unpackTokens(this.cipher.tokens(id, 0, packed.subarray(0, covered * BYTES_PER_TOKEN)));
  }

  /** A stored token as the checkpoint script read it (little-endian uint32 of its bytes), decrypted. */
  private storedToken(id: string, index: number, raw: number): number {
    if (!this.cipher) return raw;
    const b = Buffer.allocUnsafe(BYTES_PER_TOKEN);
    b.writeUInt32LE(raw >>> 0);
    return this.cipher.tokens(id, index * BYTES_PER_TOKEN, b).readUInt32LE(0);
  }

  private okRecord(reply: Reply, script: string): SequenceRecord {
    if (reply[0] !== 'ok' || !Array.isArray(reply[1])) {
      throw new SequenceStoreError(`unexpected reply from the ${script} script: ${JSON.stringify(reply)}`);
    }
    return decodeRecord(pairsToObject(reply[1]));
  }

  private replyState(value: unknown): SequenceState {
    if (!isSequenceState(value)) throw new SequenceStoreError(`unexpected state in a script reply: ${String(value)}`);
    return value;
  }
}
