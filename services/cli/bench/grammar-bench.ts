/**
 * `tandem bench grammar`: what structured output costs a decode step, measured in one run on the
 * same engine (real model, real vocabulary):
 *
 * - end to end, A/B alternated: a batch of B requests decoding T tokens each with a grammar whose
 *   masks allow nearly the whole vocabulary (text that must not contain "<tool_call>": the mask
 *   path with the most tokens to keep), against the same batch without one; the ratio of step
 *   times is the overhead at batch B;
 * - per JSON schema: every output of B constrained requests replayed through the grammar with
 *   warm masks, timing apply + advance per token, as a fraction of the unconstrained step time
 *   at that B (the engine spends B of them per step);
 * - cold: compiling each schema and building the masks of the parse states its first request
 *   visits (paid once per schema per worker; the masks are cached with the grammar).
 */
import { performance } from 'node:perf_hooks';
import type { Engine } from '../../engine/loop/engine.js';
import { GrammarCache, grammarText, jsonSchemaGrammar, toolCallGrammar, type Grammar, type TokenVocabulary } from '../../grammar/index.js';
import type { RequestOutput, SamplingParams } from '../../protocol/request.js';
import { JSON_SCHEMA_FIXTURES } from '../../../loadtest/structured/json-schemas.js';

export interface GrammarBenchOptions {
  engine: Engine;
  vocabulary: TokenVocabulary;
  model: string;
  eosTokenIds: number[];
  batches?: number[];
  tokens?: number;
  repeats?: number;
  log?: (msg: string) => void;
}

export interface GrammarBatchResult {
  batch: number;
  plain_step_ms: number;
  constrained_step_ms: number;
  /** constrained / plain − 1, end to end (median of the A/B pairs). */
  overhead: number;
  /** Per schema: warm mask apply + advance per step (B rows) over the plain step time. */
  schema_mask_fraction: Record<string, number>;
  /** Per schema: warm mask apply + advance per token (one row), microseconds. */
  schema_mask_us_per_token: Record<string, number>;
}

export interface GrammarBenchResult {
  bench: 'grammar';
  model: string;
  vocab: number;
  tokens: number;
  batches: GrammarBatchResult[];
  /** Per schema: compile plus first-request masks, ms. */
  cold_ms: Record<string, number>;
  /** The fixture schemas (loadtest/structured): compile times, ms. */
  schemas: SchemaCompileResult;
  /** Building the vocabulary trie: once per worker, at start. */
  trie_ms: number;
  target_overhead: number;
}

const BENCH_SCHEMAS: Record<string, Grammar> = {
  record: jsonSchemaGrammar({
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 24 },
      age: { type: 'integer' },
      role: { type: 'string', enum: ['admin', 'editor', 'viewer'] },
      tags: { type: 'array', items: { type: 'string', maxLength: 12 }, maxItems: 4 },
      address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: ['string', 'null'] } }, required: ['city', 'zip'], additionalProperties: false },
    },
    required: ['name', 'age', 'role', 'tags', 'address'],
    additionalProperties: false,
  }),
  tool_call: toolCallGrammar([
    { name: 'get_forecast', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'], additionalProperties: false } },
    { name: 'search', parameters: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'integer' } }, required: ['query'], additionalProperties: false } },
  ], { parallel: true }),
};

export interface SchemaCompileResult {
  count: number;
  /** JSON Schema → grammar text, at the gateway (once per schema, cached). */
  gateway_ms: { median: number; max: number };
  /** Grammar text → matcher, plus the mask of its first state, on a worker (once per schema, cached). */
  worker_first_mask_ms: { median: number; max: number; slowest: string };
}

/** Compile every fixture schema cold: at the gateway, then on a worker up to its first mask. */
function schemaCompileTimes(cache: GrammarCache, vocab: number, endIds: number[]): SchemaCompileResult {
  const gateway: number[] = [];
  const worker: Array<[number, string]> = [];
  const row = new Float32Array(vocab);
  const out = new Float32Array(vocab);
  for (const f of JSON_SCHEMA_FIXTURES) {
    const t0 = performance.now();
    const text = grammarText(jsonSchemaGrammar(f.schema));
    const t1 = performance.now();
    cache.start(text, endIds).apply(row, 1 << 20, out);
    const t2 = performance.now();
    gateway.push(t1 - t0);
    worker.push([t2 - t1, f.name]);
  }
  const ms = (x: number) => Math.round(x * 100) / 100;
  worker.sort((a, b) => a[0] - b[0]);
  return {
    count: JSON_SCHEMA_FIXTURES.length,
    gateway_ms: { median: ms(median(gateway)), max: ms(Math.max(...gateway)) },
    worker_first_mask_ms: { median: ms(median(worker.map((w) => w[0]))), max: ms(worker.at(-1)![0]), slowest: worker.at(-1)![1] },
  };
}

const NO_TOOL_CALL: Grammar = { root: 'text', rules: { text: { k: 'without', text: '<tool_call>' } } };

function sampling(maxTokens: number, seed: number, ignoreEos: boolean): SamplingParams {
  return { temperature: 1, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, seed, maxTokens, stopTokenIds: [], ignoreEos };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function drain(stream: AsyncIterable<RequestOutput>, onFirst: () => void): Promise<number[]> {
  const ids: number[] = [];
  for await (const o of stream) {
    if (ids.length === 0 && o.tokens.length > 0) onFirst();
    ids.push(...o.tokens.map((t) => t.tokenId));
  }
  return ids;
}

/**
 * Decode time per step of a batch: from the moment every request has its first token (the
 * prefills are done) to the end, over the steps in between.
 */
async function batchStepMs(engine: Engine, batch: number, tokens: number, prompts: number[][], grammar: string | undefined, tag: string): Promise<{ stepMs: number; outputs: number[][] }> {
  let firsts = 0;
  let decodeStart = 0;
  const onFirst = () => {
    if (++firsts === batch) decodeStart = performance.now();
  };
  const runs = prompts.slice(0, batch).map((p, i) =>
    drain(engine.submit({ id: `${tag}-${i}`, promptTokenIds: p, sampling: sampling(tokens, i + 1, true), ...(grammar ? { grammar } : {}) }), onFirst));
  const outputs = await Promise.all(runs);
  return { stepMs: (performance.now() - decodeStart) / (tokens - 1), outputs };
}

/** Warm per-token cost of a grammar over recorded outputs: apply (on a real-size row) + advance. */
function maskMsPerToken(cache: GrammarCache, text: string, outputs: number[][], endIds: number[], vocab: number): number {
  const row = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) row[i] = Math.sin(i);
  const out = new Float32Array(vocab);
  let n = 0;
  const t0 = performance.now();
  for (const ids of outputs) {
    const st = cache.start(text, endIds);
    ids.forEach((id, k) => {
      st.apply(row, ids.length - k + 8, out);
      if (!endIds.includes(id)) st.advance(id);
      n++;
    });
  }
  return (performance.now() - t0) / Math.max(1, n);
}

export async function runGrammarBench(o: GrammarBenchOptions): Promise<GrammarBenchResult> {
  const log = o.log ?? (() => {});
  const batches = o.batches ?? [1, 32];
  const tokens = o.tokens ?? 64;
  const repeats = o.repeats ?? 3;
  const vocab = o.vocabulary.size;
  const maxBatch = Math.max(...batches);
  // Prompts of ordinary (non-special) ids past the byte-fallback block.
  const prompts = Array.from({ length: maxBatch }, (_, i) => Array.from({ length: 32 }, (_, j) => 300 + ((i * 7919 + j * 104729) % (vocab - 400))));
  const freeText = grammarText(NO_TOOL_CALL);

  // Cold: a cache that never saw the schema (its vocabulary trie is built at worker start, not
  // per schema), compile + the masks of the first request's parse states.
  const tt = performance.now();
  const fresh = new GrammarCache(o.vocabulary);
  const trie_ms = Math.round(performance.now() - tt);
  const schemas = schemaCompileTimes(fresh, vocab, o.eosTokenIds);
  log(`[bench] ${schemas.count} fixture schemas: gateway compile median ${schemas.gateway_ms.median} ms (max ${schemas.gateway_ms.max}); worker compile + first mask median ${schemas.worker_first_mask_ms.median} ms (max ${schemas.worker_first_mask_ms.max}, ${schemas.worker_first_mask_ms.slowest}); vocabulary trie ${trie_ms} ms once per worker`);
  const cold_ms: Record<string, number> = {};
  const schemaOutputs: Record<string, number[][]> = {};
  for (const [name, g] of Object.entries(BENCH_SCHEMAS)) {
    const text = grammarText(g);
    const t0 = performance.now();
    fresh.start(text, o.eosTokenIds);
    const compileMs = performance.now() - t0;
    const outs = await Promise.all(prompts.slice(0, maxBatch).map((p, i) =>
      drain(o.engine.submit({ id: `cold-${name}-${i}`, promptTokenIds: p, sampling: sampling(200, 100 + i, false), grammar: text }), () => {})));
    schemaOutputs[name] = outs;
    // The engine's own cache built the masks above; time them again on the fresh cache for the figure.
    const t1 = performance.now();
    maskMsPerToken(fresh, text, outs.slice(0, 1), o.eosTokenIds, vocab);
    cold_ms[name] = Math.round((compileMs + performance.now() - t1) * 10) / 10;
    log(`[bench] ${name}: compile + first request's masks ${cold_ms[name]} ms; ${outs.length} outputs, mean ${(outs.reduce((a, x) => a + x.length, 0) / outs.length).toFixed(1)} tokens`);
  }

  const warm = new GrammarCache(o.vocabulary);
  const results: GrammarBatchResult[] = [];
  for (const batch of batches) {
    const plain: number[] = [];
    const constrained: number[] = [];
    const ratios: number[] = [];
    await batchStepMs(o.engine, batch, tokens, prompts, freeText, `warm-${batch}`); // warm-up both paths
    for (let r = 0; r < repeats; r++) {
      const a = await batchStepMs(o.engine, batch, tokens, prompts, undefined, `plain-${batch}-${r}`);
      const b = await batchStepMs(o.engine, batch, tokens, prompts, freeText, `free-${batch}-${r}`);
      plain.push(a.stepMs);
      constrained.push(b.stepMs);
      ratios.push(b.stepMs / a.stepMs);
    }
    const plainMs = median(plain);
    const schema_mask_fraction: Record<string, number> = {};
    const schema_mask_us_per_token: Record<string, number> = {};
    for (const [name, g] of Object.entries(BENCH_SCHEMAS)) {
      const text = grammarText(g);
      const outs = schemaOutputs[name]!.slice(0, batch);
      maskMsPerToken(warm, text, outs, o.eosTokenIds, vocab); // warm the masks
      const perToken = maskMsPerToken(warm, text, outs, o.eosTokenIds, vocab);
      schema_mask_fraction[name] = Number(((perToken * batch) / plainMs).toPrecision(3));
      schema_mask_us_per_token[name] = Math.round(perToken * 1000 * 10) / 10;
    }
    const res: GrammarBatchResult = {
      batch,
      plain_step_ms: Math.round(plainMs * 100) / 100,
      constrained_step_ms: Math.round(median(constrained) * 100) / 100,
      overhead: Math.round((median(ratios) - 1) * 1000) / 1000,
      schema_mask_fraction,
      schema_mask_us_per_token,
    };
    log(`[bench] batch ${batch}: step ${res.plain_step_ms} ms plain, ${res.constrained_step_ms} ms constrained (overhead ${(res.overhead * 100).toFixed(1)}%); warm schema masks ${JSON.stringify(schema_mask_fraction)} of a step (${JSON.stringify(schema_mask_us_per_token)} µs per token)`);
    results.push(res);
  }
  return { bench: 'grammar', model: o.model, vocab, tokens, batches: results, cold_ms, schemas, trie_ms, target_overhead: 0.1 };
}
