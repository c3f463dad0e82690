import * as grpc from '@grpc/grpc-js';
import type { pb } from '../protocol/wire.js';
import type { WorkerRecord } from '../protocol/registry.js';
import { LeastLoadPolicy } from './policies/least-load.js';
import type { RouterDeps } from './router-deps.js';
import type { SequenceLog } from './sequence-log.js';

const leastLoaded = new LeastLoadPolicy();

/** Generated tokens are checkpointed in the sequence store every this many (never per token). */
export const CHECKPOINT_EVERY = 32;
/** Decode workers a request may lose before it fails. */
export const MAX_MIGRATIONS = 2;

/** Where relayed chunks go: the client's call (or a filter in front of it, see resume.ts). */
export interface TokenSink {
  write(chunk: pb.TokenChunk): unknown;
}

export interface DecodeRelayContext {
  d: RouterDeps;
  req: pb.GenerateRequest;
  sink: TokenSink;
  leg: { add<T extends grpc.Call>(c: T): T; release?(c: grpc.Call): void; readonly cancelled: boolean };
  /** The request's sequence-store writes (transitions and token checkpoints, in order). */
  log: SequenceLog;
  legTrace: () => grpc.Metadata;
  legOptions: grpc.CallOptions;
}

/** Statuses that mean the worker (or the way to it) is gone, not that the request is bad. */
function isWorkerLoss(e: unknown): boolean {
  if (e instanceof FrozenWorkerError) return true;
  const code = (e as grpc.ServiceError).code;
  return code === grpc.status.UNAVAILABLE || code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN;
}

/**
 * A decode stream is given up as lost when it has sent nothing for STALL_MS while its worker has
 * stopped heartbeating for HEARTBEAT_SILENCE_MS (heartbeats come every second): a frozen (SIGSTOP)
 * or wedged worker, whose TCP connection stays open so gRPC alone would notice only after its
 * keepalive timeout (≈15 s). A busy but live worker keeps heartbeating and is never given up.
 */
export const STALL_MS = 1500;
export const HEARTBEAT_SILENCE_MS = 2500;

class FrozenWorkerError extends Error {}

/**
 * Relays a decode stream to the client and survives the loss of the decode worker (DESIGN §8):
 * the tokens streamed so far are known here (and checkpointed in the store every
 * CHECKPOINT_EVERY), so another decode-capable worker re-prefills prompt + those tokens and
 * continues (EngineRequest.resumeOutputTokenIds). The new worker emits only the tokens after
 * them, and the determinism contract makes them the tokens the lost worker would have produced:
 * the client sees no duplicate and no gap. Resolves with the last chunk. `alreadyStored` of
 * `alreadySent` are checkpointed already (a resumed request starts from the stored tokens).
 */
export async function relayDecode(c: DecodeRelayContext, stream: grpc.ClientReadableStream<pb.TokenChunk>, worker: WorkerRecord, alreadySent: readonly number[], alreadyStored = 0): Promise<pb.TokenChunk | undefined> {
  const generated = [...alreadySent];
  let checkpointed = alreadyStored;
  const checkpoint = (force: boolean) => {
    if (generated.length - checkpointed < (force ? 1 : CHECKPOINT_EVERY)) return;
    const from = checkpointed;
    checkpointed = generated.length;
    c.log.checkpoint(from, generated.slice(from));
  };
  let current = stream;
  let currentWorker = worker;
  for (let migrations = 0; ; migrations++) {
    try {
      const worker = currentWorker;
      const source = current;
      const last = await relayOnce(source, c.sink, (ids, finished) => {
        generated.push(...ids);
        checkpoint(false);
        // The worker has said everything: a client hanging up now must not cancel its call
        // (it would end CANCELLED, a failed leg in the trace, for a request that completed).
        if (finished) c.leg.release?.(source);
      }, () => c.d.view.silentForMs(worker.id) > HEARTBEAT_SILENCE_MS);
      return last;
    } catch (e) {
      if (c.leg.cancelled || migrations >= MAX_MIGRATIONS || !isWorkerLoss(e)) throw e;
      c.d.view.forget(currentWorker.id);
      const lost = currentWorker.id;
      const next = leastLoaded.select(c.d.view.all().filter((w) => (w.role === 'decode-text' || w.role === 'unified') && w.id !== lost));
      if (!next) throw e;
      checkpoint(true);
      const resumeFrom = await storedTokens(c, generated);
      c.log.move('prefilling', { workers: { prefill: next.id, decode: next.id }, error: `decode worker ${currentWorker.id} lost: ${(e as Error).message}` });
      c.log.move('decoding');
      c.d.counters.migrations = (c.d.counters.migrations ?? 0) + 1;
      const resumed: pb.GenerateRequest = { ...c.req, resumeOutputTokenIds: resumeFrom };
      current = c.leg.add(c.d.clients.get(next.grpc).Generate(resumed, c.legTrace(), c.legOptions) as grpc.ClientReadableStream<pb.TokenChunk>);
      currentWorker = next;
    }
  }
}

/** One worker's stream into the client's call; resolves with the last chunk. */
function relayOnce(
  source: grpc.ClientReadableStream<pb.TokenChunk>,
  sink: TokenSink,
  onTokens: (ids: number[], finished: boolean) => void,
  workerSilent: () => boolean,
): Promise<pb.TokenChunk | undefined> {
  return new Promise((resolve, reject) => {
    let last: pb.TokenChunk | undefined;
    let lastChunkAt = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastChunkAt < STALL_MS || !workerSilent()) return;
      clearInterval(watchdog);
      source.cancel();
      reject(new FrozenWorkerError('the decode worker stopped heartbeating and sending tokens'));
    }, 250);
    const done = () => clearInterval(watchdog);
    source.on('data', (chunk: pb.TokenChunk) => {
      last = chunk;
      lastChunkAt = Date.now();
      onTokens(chunk.tokens.map((t) => t.tokenId), chunk.finished);
      sink.write(chunk);
    });
    source.on('end', () => (done(), resolve(last)));
    // After the final chunk the client may hang up before the worker's end-of-stream arrives;
    // the resulting cancellation is not a failure of the request.
    source.on('error', (e) => (done(), last?.finished ? resolve(last) : reject(e)));
  });
}

/** How long a migration waits for the store to confirm the tokens before going on without it. */
export const STORE_READ_BACK_MS = 1000;

/**
 * The tokens to resume from, read back from the sequence store (the state written is the state
 * read: it is what another router would resume from). They must equal what this relay streamed —
 * the client has exactly those — so a store that lags, lost the record (restart) or does not
 * answer within STORE_READ_BACK_MS (Redis down: its writes wait for it) is reported and the
 * relay's own list is used instead.
 */
export async function storedTokens(c: Pick<DecodeRelayContext, 'd' | 'req' | 'log'>, streamed: readonly number[], waitMs = STORE_READ_BACK_MS): Promise<number[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
  try {
    const read = c.log.settled().then(() => c.d.store.getTokens(c.req.requestId));
    read.catch(() => undefined);
    const stored = await Promise.race([read, late]);
    if (stored === 'late') throw new Error(`the store did not answer within ${waitMs} ms`);
    if (stored.length === streamed.length && stored.every((t, i) => t === streamed[i])) return stored;
    c.d.onStoreError?.('resume', new Error(`the store holds ${stored.length} tokens of ${c.req.requestId}, the relay streamed ${streamed.length}`));
  } catch (e) {
    c.d.onStoreError?.('resume', e as Error);
  } finally {
    clearTimeout(timer);
  }
  return [...streamed];
}
