/**
 * The official `openai` client against `tandem up` (a child process, started as users start it).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServedModel } from '../../services/gateway/served-model.js';
import { startUnifiedWorker } from '../../services/worker/unified-worker.js';
import { genTinyModel } from '../fixtures/models.js';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';

const MODEL = 'tandem-tiny';
let modelDir: string;
let cluster: RunningCluster;
let client: OpenAI;

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5', 5);
  cluster = await startTandemUp(['--model', modelDir, '--served-model-name', MODEL]);
  client = new OpenAI({ baseURL: cluster.baseURL, apiKey: 'unused' });
});
afterAll(async () => {
  await cluster?.stop();
});

const user = (content: string) => [{ role: 'user' as const, content }];

describe('chat completions', () => {
  it('non-streaming: text, usage and finish reason', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: user('Hello there'), max_tokens: 12, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe(MODEL);
    expect(r.choices).toHaveLength(1);
    const c = r.choices[0]!;
    expect(typeof c.message.content).toBe('string');
    expect(['stop', 'length']).toContain(c.finish_reason);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(3);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
    if (c.finish_reason === 'length') expect(r.usage!.completion_tokens).toBe(12);
  });

  it('streaming with include_usage gives the same text as non-streaming (greedy)', async () => {
    const params = { model: MODEL, messages: user('Tell me a story about Tandem'), max_tokens: 20, temperature: 0 } as const;
    const whole = await client.chat.completions.create(params);
    const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    let roles = 0;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const ch of chunk.choices) {
        if (ch.delta.role) roles++;
        text += ch.delta.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    expect(roles).toBe(1);
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    const { prompt_tokens, completion_tokens, total_tokens } = whole.usage!;
    expect(usage).toMatchObject({ prompt_tokens, completion_tokens, total_tokens });
    // The second identical prompt is served from the prefix cache (one full 16-token block).
    expect(usage!.prompt_tokens_details?.cached_tokens).toBe(Math.floor((prompt_tokens - 1) / 16) * 16);
  });

  it('n=2: greedy choices are identical, seeded sampled choices differ and are reproducible', async () => {
    const greedy = await client.chat.completions.create({ model: MODEL, messages: user('Pick two'), max_tokens: 10, temperature: 0, n: 2 });
    expect(greedy.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(greedy.choices[0]!.message.content).toBe(greedy.choices[1]!.message.content);
    const sampled = { model: MODEL, messages: user('Pick two'), max_tokens: 16, temperature: 1, n: 2, seed: 42 } as const;
    const a = await client.chat.completions.create(sampled);
    const b = await client.chat.completions.create(sampled);
    expect(a.choices[0]!.message.content).not.toBe(a.choices[1]!.message.content);
    expect(b.choices.map((c) => c.message.content)).toEqual(a.choices.map((c) => c.message.content));
    expect(a.usage!.completion_tokens).toBeGreaterThan(16);
  });

  it('same seed gives the same sampled output; another seed a different one', async () => {
    const p = { model: MODEL, messages: user('Random words please'), max_tokens: 24, temperature: 1.2, top_p: 0.95, seed: 7 } as const;
    const a = await client.chat.completions.create(p);
    const b = await client.chat.completions.create(p);
    const c = await client.chat.completions.create({ ...p, seed: 8 });
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(c.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
  });

  it('stop strings cut the text before the stop and report finish_reason stop', async () => {
    const base = { model: MODEL, messages: user('Keep talking'), max_tokens: 40, temperature: 0 } as const;
    const full = (await client.chat.completions.create(base)).choices[0]!.message.content!;
    expect(full.length).toBeGreaterThan(12);
    const stop = full.slice(8, 11);
    const cut = full.indexOf(stop);
    const r = await client.chat.completions.create({ ...base, stop: [stop, 'never-appears-xyz'] });
    expect(r.choices[0]!.message.content).toBe(full.slice(0, cut));
    expect(r.choices[0]!.finish_reason).toBe('stop');
    // Streaming honours the same stop.
    const s = await client.chat.completions.create({ ...base, stop, stream: true });
    let text = '';
    for await (const ch of s) text += ch.choices[0]?.delta.content ?? '';
    expect(text).toBe(full.slice(0, cut));
  });

  it('logprobs and top_logprobs: one entry per token, alternatives sorted, chosen token among them under greedy', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: user('Hi'), max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3 });
    const lp = r.choices[0]!.logprobs!.content!;
    expect(lp).toHaveLength(r.usage!.completion_tokens);
    for (const t of lp) {
      expect(t.top_logprobs).toHaveLength(3);
      expect(t.logprob).toBeLessThanOrEqual(0);
      const tops = t.top_logprobs.map((x) => x.logprob);
      expect([...tops].sort((x, y) => y - x)).toEqual(tops);
      expect(t.logprob).toBeCloseTo(tops[0]!, 5); // greedy picks the most likely token
      expect(Array.isArray(t.bytes)).toBe(true);
    }
  });

  it('greedy output equals the engine driven directly on the same checkpoint', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: user('Direct comparison'), max_tokens: 16, temperature: 0 });
    const worker = await startUnifiedWorker({ modelDir, numKvBlocks: 64 });
    const served = await loadServedModel(modelDir);
    const text = served.chatTemplate!.render({ messages: user('Direct comparison'), addGenerationPrompt: true, enableThinking: false });
    const ids = served.tokenizer.encode(text, { addSpecialTokens: false });
    const tokens: number[] = [];
    for await (const o of worker.engine.submit({
      id: 'direct',
      promptTokenIds: ids,
      sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens: 16, stopTokenIds: [], ignoreEos: false },
    })) tokens.push(...o.tokens.map((t) => t.tokenId));
    await worker.engine.shutdown();
    expect(r.usage!.prompt_tokens).toBe(ids.length);
    expect(r.choices[0]!.message.content).toBe(served.tokenizer.decode(tokens, { skipSpecialTokens: true }));
  });
});

describe('completions', () => {
  it('non-streaming and streaming agree; token-id prompts work', async () => {
    const whole = await client.completions.create({ model: MODEL, prompt: 'The quick brown fox', max_tokens: 10, temperature: 0 });
    expect(whole.object).toBe('text_completion');
    const s = await client.completions.create({ model: MODEL, prompt: 'The quick brown fox', max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const ch of s) {
      text += ch.choices[0]?.text ?? '';
      if (ch.usage) usage = ch.usage;
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(usage).toMatchObject({ prompt_tokens: whole.usage!.prompt_tokens, completion_tokens: whole.usage!.completion_tokens });
    const ids = await client.completions.create({ model: MODEL, prompt: [5, 6, 7, 8], max_tokens: 3, temperature: 0 });
    expect(ids.usage!.prompt_tokens).toBe(4);
  });

  it('legacy logprobs', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: 'abc', max_tokens: 4, temperature: 0, logprobs: 2 });
    const lp = r.choices[0]!.logprobs!;
    expect(lp.tokens).toHaveLength(r.usage!.completion_tokens);
    expect(lp.top_logprobs![0]).toBeTypeOf('object');
  });
});

describe('models and health', () => {
  it('lists the served model and answers health, ready and metrics', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
    expect((await fetch(`${cluster.origin}/health`)).status).toBe(200);
    expect((await fetch(`${cluster.origin}/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${cluster.origin}/metrics`)).text();
    for (const name of ['tandem_time_to_first_token_seconds', 'tandem_inter_token_latency_seconds', 'tandem_e2e_request_latency_seconds', 'tandem_num_requests_running', 'tandem_num_requests_waiting', 'tandem_prompt_tokens_total', 'tandem_generation_tokens_total', 'tandem_kv_cache_usage_perc', 'tandem_prefix_cache_hit_rate']) {
      expect(metrics).toContain(name);
    }
  });
});
