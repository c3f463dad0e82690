/**
 * Router.Resume against records a lost router left in the sequence store (written here the way
 * the router writes them), one router and one decode-text worker in process: the stream carries
 * exactly the tokens after those the caller has — with the caller's ids, or from the checkpoint
 * alone (tokens delivered past it regenerated and dropped) — identical to an uninterrupted run;
 * a finished record is replayed without writes; what cannot be resumed is refused with the
 * final mark (so the gateway does not try again). The claim's compare-and-set (two resumers of
 * one snapshot: one wins) is in the store's contract (services/state/sequence-store.contract.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../services/bus/index.js';
import { isFinalError } from '../../services/common/grpc/grpc-error.js';
import { tandemV1 } from '../../services/protocol/grpc-services.js';
import type { SamplingParams } from '../../services/protocol/request.js';
import { requestToPb, type pb } from '../../services/protocol/wire.js';
import { startRouter, type RunningRouter } from '../../services/router/start-router.js';
import { MemorySequenceStore, type SequenceRequest } from '../../services/state/index.js';
import { createTransferEngine } from '../../services/transfer/transfer-engine.js';
import { startWorker, type RunningWorker } from '../../services/worker/start-worker.js';
import { genTinyModel } from '../fixtures/models.js';

const bus = new MemoryBus();
const store = new MemorySequenceStore();
let worker: RunningWorker;
let router: RunningRouter;
let client: grpc.Client & Record<string, (...a: unknown[]) => unknown>;

const MAX_TOKENS = 40;
const sampling: SamplingParams = { temperature: 0.8, topP: 0.95, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0.2, repetitionPenalty: 1, seed: 99, maxTokens: MAX_TOKENS, stopTokenIds: [], ignoreEos: true };
const request: SequenceRequest = { promptTokenIds: Array.from({ length: 20 }, (_, i) => 100 + i * 7), sampling, eosTokenIds: [] };
let reference: number[];

async function drain(call: grpc.ClientReadableStream<pb.TokenChunk>): Promise<number[]> {
  const tokens: number[] = [];
  for await (const c of call as AsyncIterable<pb.TokenChunk>) tokens.push(...c.tokens.map((t) => t.tokenId));
  return tokens;
}

async function failure(call: grpc.ClientReadableStream<pb.TokenChunk>): Promise<grpc.ServiceError> {
  try {
    await drain(call);
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

const resume = (requestId: string, deliveredTokens: number, deliveredTokenIds: number[] = []) =>
  client.Resume({ requestId, deliveredTokens, deliveredTokenIds, images: [] }) as grpc.ClientReadableStream<pb.TokenChunk>;

/** The record a router leaves when it dies while decoding, `checkpointed` tokens stored. */
async function lostWhileDecoding(id: string, checkpointed: number, r: SequenceRequest = request): Promise<void> {
  await store.create({ id, promptTokens: r.promptTokenIds.length, deadlineMs: Date.now() + 60_000, request: r });
  await store.transition(id, 'queued', 'decoding', { workers: { decode: 'a-worker-that-is-gone' } });
  if (checkpointed > 0) await store.checkpointTokens(id, 0, reference.slice(0, checkpointed));
}

beforeAll(async () => {
  const modelDir = genTinyModel();
  worker = await startWorker({ role: 'decode-text', modelDir, bus, transfer: await createTransferEngine('local'), numKvBlocks: 64 });
  router = await startRouter({ bus, store });
  client = new (tandemV1().Router)(router.address, grpc.credentials.createInsecure()) as typeof client;
  reference = await drain(client.Generate(requestToPb({ id: 'reference', ...request })) as grpc.ClientReadableStream<pb.TokenChunk>);
  expect(reference).toHaveLength(MAX_TOKENS);
}, 60_000);
afterAll(async () => {
  client?.close();
  await router?.close();
  await worker?.close();
  await bus.close();
});

describe('Router.Resume from the sequence store', () => {
  it.each([
    ['caller ids past the checkpoint', 32, 37, true],
    ['count only, delivered past the checkpoint (regenerated and dropped)', 32, 37, false],
    ['count only, nothing checkpointed yet', 0, 9, false],
    ['count only, checkpoint ahead of the caller', 32, 20, false],
    ['nothing delivered', 0, 0, false],
  ] as const)('%s: the tokens after the delivered ones, as an uninterrupted run', async (_name, checkpointed, delivered, withIds) => {
    const id = `lost-${checkpointed}-${delivered}-${withIds}`;
    await lostWhileDecoding(id, checkpointed);
    const got = await drain(resume(id, delivered, withIds ? reference.slice(0, delivered) : []));
    expect(got).toEqual(reference.slice(delivered));
    const snap = (await store.snapshot(id))!;
    expect(snap.record.state).toBe('finished');
    expect(snap.record.history).toEqual(['queued', 'decoding', 'prefilling', 'decoding', 'finished']);
    expect(snap.record.workers.decode).toBe(worker.id);
    expect(snap.record.attempt).toBe(2);
    // Checkpoints every 32 tokens (not at the end): the stored tokens are the output's first 32.
    expect(snap.tokens).toEqual(reference.slice(0, 32));
  });

  it('a finished record (the caller lost only the end of the stream) is replayed, recording nothing', async () => {
    await lostWhileDecoding('ended', 32);
    await store.transition('ended', 'decoding', 'finished');
    const before = await store.snapshot('ended');
    expect(await drain(resume('ended', 35, reference.slice(0, 35)))).toEqual(reference.slice(35));
    expect(await store.snapshot('ended')).toEqual(before);
  });

  it('refuses, marked final, what cannot be resumed', async () => {
    const notFound = await failure(resume('never-seen', 3));
    expect(notFound.code).toBe(grpc.status.NOT_FOUND);
    expect(isFinalError(notFound)).toBe(true);

    await store.create({ id: 'failed', promptTokens: 20, deadlineMs: Date.now() + 60_000, request });
    await store.transition('failed', 'queued', 'failed', { error: 'no decode-capable worker' });
    const failed = await failure(resume('failed', 0));
    expect(failed.details).toMatch(/failed: no decode-capable worker/);
    expect(isFinalError(failed)).toBe(true);

    await store.create({ id: 'no-request', promptTokens: 20, deadlineMs: Date.now() + 60_000 });
    expect(isFinalError(await failure(resume('no-request', 0)))).toBe(true);

    const image = { mmHash: 'h', offset: 0, tokenCount: 4, grid: { t: 1, h: 4, w: 4 } };
    await lostWhileDecoding('with-image', 0, { ...request, images: [image] });
    // The store keeps no pixels: a caller that does not send the images again cannot resume it
    // (the gateway does send them: test/vision/vision-router-loss.test.ts).
    const images = await failure(resume('with-image', 0));
    expect(images.details).toMatch(/has images, whose pixels are not stored, and the caller did not send them again/);
    expect(isFinalError(images)).toBe(true);
  });
});
