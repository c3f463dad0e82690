/**
 * Structured outputs across processes: `tandem up --cluster` (router, prefill and decode workers,
 * gateway; real NATS and Redis) carries each request's grammar to whichever worker samples. The
 * replies to every fixture schema validate and are bit-identical to a unified server's; forced
 * tool calls hold; a decode worker killed mid-stream hands a constrained stream to another,
 * which replays the grammar over the tokens already sent and continues it unchanged.
 */
import Ajv from 'ajv';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { MODEL, askFor, checkStructuredReplies, checkToolCalls } from '../fixtures/structured-output-checks.js';

const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LONG = Array.from({ length: 40 }, (_, j) => `w${(j * 7) % 97}`).join(' ');

// Six strings of up to 8 characters: a reply long enough to kill its decode worker in the middle.
const LIST_SCHEMA = {
  type: 'object',
  properties: { items: { type: 'array', items: { type: 'string', maxLength: 8 }, minItems: 6, maxItems: 6 }, done: { type: 'boolean' } },
  required: ['items', 'done'],
  additionalProperties: false,
};

let modelDir: string;
let unifiedReplies: string[];
let unified: RunningCluster;

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5', 3);
  unified = await startTandemUp(['--mode', 'unified', '--model', modelDir, '--served-model-name', MODEL]);
  unifiedReplies = await checkStructuredReplies(new OpenAI({ baseURL: unified.baseURL, apiKey: 'x', maxRetries: 0 }));
}, 300_000);
afterAll(async () => unified?.stop());

describe('structured outputs in a multi-process cluster', () => {
  let cluster: RunningCluster;
  beforeAll(async () => {
    cluster = await startTandemUp(['--cluster', '--nats', NATS, '--redis', REDIS, '--cluster-name', `structured-${process.pid}`, '--model', modelDir, '--served-model-name', MODEL], {}, 120_000);
  }, 180_000);
  afterAll(async () => cluster?.stop());

  it('every fixture reply validates and equals the unified server\'s, greedy and seeded', async () => {
    const replies = await checkStructuredReplies(new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x', maxRetries: 0 }));
    expect(replies).toEqual(unifiedReplies);
  }, 300_000);

  it('forced tool calls are enforced on the cluster too', async () => {
    await checkToolCalls(new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x', maxRetries: 0 }));
  }, 120_000);
});

describe('a constrained stream whose decode worker is killed mid-stream', () => {
  let cluster: RunningCluster;
  beforeAll(async () => {
    cluster = await startTandemUp(
      ['--cluster', '--nats', NATS, '--redis', REDIS, '--cluster-name', `structured-migrate-${process.pid}`, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '2'],
      { TANDEM_FAULT_STEP_DELAY_MS: '40' },
      120_000,
    );
  }, 180_000);
  afterAll(async () => cluster?.stop());

  async function streamList(c: RunningCluster, onChunk?: (n: number) => Promise<void>): Promise<{ id: string; text: string }> {
    const stream = await new OpenAI({ baseURL: c.baseURL, apiKey: 'x', maxRetries: 0 }).chat.completions.create({
      ...askFor(LONG), max_tokens: 120, temperature: 0.9, seed: 21, stream: true,
      response_format: { type: 'json_schema', json_schema: { name: 'list', schema: LIST_SCHEMA, strict: true } },
    });
    let text = '';
    let id = '';
    let n = 0;
    for await (const chunk of stream) {
      id = chunk.id;
      const piece = chunk.choices[0]?.delta.content ?? '';
      if (piece === '') continue;
      text += piece;
      await onChunk?.(++n);
    }
    return { id, text };
  }

  it('continues on the other decode worker with the grammar replayed: identical to unified, and valid', async () => {
    const expected = await streamList(unified);
    expect(new Ajv().validate(LIST_SCHEMA, JSON.parse(expected.text))).toBe(true);
    const decoders = [...cluster.output().matchAll(/decode-text-\d+\s+pid (\d+)\s+id (\S+)/g)].map((m) => ({ pid: Number(m[1]), id: m[2]! }));
    expect(decoders).toHaveLength(2);
    const redis = new Redis(REDIS);
    let victim: { pid: number; id: string } | undefined;
    try {
      const got = await streamList(cluster, async (n) => {
        if (n !== 6 || victim) return;
        for (const seqId of await redis.zrange('tandem:seq:active', 0, -1)) {
          const serving = await redis.hget(`tandem:seq:${seqId}`, 'w:decode');
          victim ??= decoders.find((w) => w.id === serving);
        }
        process.kill(victim!.pid, 'SIGKILL');
      });
      expect(victim).toBeDefined();
      expect(got.text).toBe(expected.text);
      expect(await redis.hget(`tandem:seq:${got.id}-0`, 'w:decode')).not.toBe(victim!.id);
    } finally {
      await redis.quit();
    }
  }, 120_000);
});
