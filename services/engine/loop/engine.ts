import { AsyncQueue } from '../../common/async-queue.js';
import { BlockPool, type BlockEvent } from '../kv/block-pool.js';
import type { FinishReason, GeneratedToken, RequestOutput, RequestStream, SamplingParams } from '../../protocol/request.js';
import type { EngineRequest } from '../request-types.js';
import type { ModelRunner } from '../runner/model-runner.js';
import { randomSeed, sampleToken } from '../sampling/sampler.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { SchedulerOutput } from '../scheduler/scheduler-output.js';
import { validateEngineRequest } from './validate-request.js';
import { cacheKeyTokens } from '../../protocol/cache-key-tokens.js';
import { VlSequenceInputs } from '../vl/vl-inputs.js';
import { GrammarCache, type TokenVocabulary } from '../../grammar/index.js';
import { LogitConstraints } from './logit-constraints.js';

export interface EngineOptions {
  /** Most sequences holding KV at once (default 64). */
  maxNumSeqs?: number;
  /** Token budget per step (default: the runner's maxBatchTokens). */
  maxBatchTokens?: number;
  enablePrefixCaching?: boolean;
  /** Ids that end generation unless a request sets ignoreEos or brings its own (GenerationRequest.eosTokenIds). */
  eosTokenIds: number[];
  onBlockEvent?: (e: BlockEvent) => void;
  /**
   * Fault injection for failure drills (e.g. killing a worker mid-prefill): pause this long
   * before every forward step. 0 / unset in normal operation.
   */
  faultStepDelayMs?: number;
  /**
   * The bytes of each token id, for structured output (requests with a grammar). Without it such
   * requests are refused at submit.
   */
  vocabulary?: TokenVocabulary;
}

export interface EngineStats {
  running: number;
  waiting: number;
  numBlocks: number;
  freeBlocks: number;
  kvUsage: number;
  prefixCacheHitRate: number;
  prefixCacheQueriedTokens: number;
  prefixCacheHitTokens: number;
  steps: number;
  preemptions: number;
  promptTokens: number;
  generationTokens: number;
}

export type { RequestStream };

interface Active {
  req: EngineRequest;
  seed: number;
  queue: AsyncQueue<RequestOutput>;
  completionTokens: number;
  /** Ids that end it (the request's own, or the engine's default EOS ids). */
  eos: ReadonlySet<number>;
  /** VL models: the sequence's modality / 3-D positions / image rows. */
  vl?: VlSequenceInputs;
  /** Grammar mask and logit_bias, when the request has either. */
  constraints?: LogitConstraints;
}

/**
 * The engine loop: schedule() → execute(output) → update(output, result), repeated while work
 * exists. Forward passes run on native threads, so HTTP and timers keep running between and
 * during steps. The engine never sees text: token ids in, token ids out.
 */
export class Engine {
  readonly pool: BlockPool;
  private readonly scheduler: Scheduler;
  private readonly active = new Map<string, Active>();
  private readonly eos: Set<number>;
  private wake: (() => void) | null = null;
  private stopped = false;
  private loopDone: Promise<void>;
  private counters = { steps: 0, preemptions: 0, promptTokens: 0, generationTokens: 0 };
  private readonly faultStepDelayMs: number;
  private readonly grammars?: GrammarCache;

  constructor(
    readonly runner: ModelRunner,
    opts: EngineOptions,
  ) {
    this.eos = new Set(opts.eosTokenIds);
    this.faultStepDelayMs = opts.faultStepDelayMs ?? 0;
    if (opts.vocabulary) this.grammars = new GrammarCache(opts.vocabulary);
    this.pool = new BlockPool({
      numBlocks: runner.kv.layout.numBlocks,
      blockSize: runner.blockSize,
      enablePrefixCaching: opts.enablePrefixCaching ?? true,
      onEvent: opts.onBlockEvent,
    });
    this.scheduler = new Scheduler(
      {
        maxNumSeqs: opts.maxNumSeqs ?? 64,
        maxBatchTokens: Math.min(opts.maxBatchTokens ?? runner.maxBatchTokens, runner.maxBatchTokens),
        blockSize: runner.blockSize,
      },
      this.pool,
    );
    this.loopDone = this.loop();
  }

  get maxModelLen(): number {
    return this.runner.maxModelLen;
  }

  /** Queues a request; the stream yields one output per step that produced tokens for it. */
  submit(req: EngineRequest): RequestStream {
    this.checkSubmit(req);
    const vl = this.vlInputs(req, true);
    const queue = new AsyncQueue<RequestOutput>(() => this.abort(req.id));
    const resumed = req.resumeOutputTokenIds ?? [];
    const eos = this.eosOf(req);
    const constraints = LogitConstraints.of(req, this.grammars, this.endIdsOf(req, eos), resumed);
    this.active.set(req.id, { req, seed: req.sampling.seed ?? randomSeed(), queue, completionTokens: resumed.length, eos, vl, constraints });
    this.scheduler.add(req.id, req.promptTokenIds, req.cacheSalt, this.cacheKeyOf(req), resumed);
    this.counters.promptTokens += req.promptTokenIds.length;
    this.wakeUp();
    return Object.assign(queue, { requestId: req.id, abort: () => this.abort(req.id) });
  }

  private checkSubmit(req: EngineRequest): void {
    validateEngineRequest(req, {
      vocabSize: this.runner.vocabSize,
      maxModelLen: this.runner.maxModelLen,
      capacityTokens: this.pool.numBlocks * this.pool.blockSize,
    });
    if (this.active.has(req.id)) throw new Error(`request id ${req.id} is already active`);
    if (this.stopped) throw new Error('the engine is shut down');
  }

  private eosOf(req: EngineRequest): ReadonlySet<number> {
    return req.eosTokenIds ? new Set(req.eosTokenIds) : this.eos;
  }

  /** Tokens that end a request's output: a grammar allows them only where its sentence is complete. */
  private endIdsOf(req: EngineRequest, eos: ReadonlySet<number>): number[] {
    return [...new Set([...req.sampling.stopTokenIds, ...(req.sampling.ignoreEos ? [] : eos)])];
  }

  /** Prefix-cache key of a multimodal prompt (image tokens keyed by mm_hash); undefined for text. */
  private cacheKeyOf(req: EngineRequest): number[] | undefined {
    return req.images?.length ? cacheKeyTokens(req.promptTokenIds, req.images) : undefined;
  }

  /**
   * VL inputs of a request on a VL model (every request there: text tokens need 3-D positions
   * too). Prompts that will be computed here need every image's embeddings up front.
   */
  private vlInputs(req: EngineRequest, computesPrompt: boolean): VlSequenceInputs | undefined {
    const vl = this.runner.vl;
    if (!vl) {
      if (req.images?.length) throw new Error('this model does not take images');
      return undefined;
    }
    const inputs = new VlSequenceInputs(req.promptTokenIds, req.images ?? [], vl.config, vl.config.text.hiddenSize);
    if (computesPrompt && !inputs.ready) throw new Error('an image of the prompt has no embeddings (encode it before submitting)');
    return inputs;
  }

  /** Ends a request now: its blocks go back to the pool before this returns. */
  abort(requestId: string): void {
    const a = this.active.get(requestId);
    if (!a) return;
    this.end(a, 'abort');
  }

  /** Blocks for a prompt whose KV another worker will write (see Scheduler.reserveBlocks). */
  reserveBlocks(promptTokenIds: readonly number[], cacheSalt?: string): { blocks: number[]; cachedTokens: number } | null {
    return this.scheduler.reserveBlocks(promptTokenIds, cacheSalt);
  }

  /** Releases blocks from reserveBlocks or a prefillOnly request's output. */
  releaseBlocks(blocks: number[]): void {
    this.scheduler.releaseReserved(blocks);
    this.wakeUp();
  }

  /**
   * Continues a request whose prompt KV is already in `blocks` (written by a prefill worker) and
   * whose first token was sampled there: the stream yields the tokens after it.
   */
  submitPrefilled(req: EngineRequest, blocks: number[], firstTokenId: number): RequestStream {
    this.checkSubmit(req);
    const vl = this.vlInputs(req, false);
    const queue = new AsyncQueue<RequestOutput>(() => this.abort(req.id));
    const eos = this.eosOf(req);
    const constraints = LogitConstraints.of(req, this.grammars, this.endIdsOf(req, eos), [firstTokenId]);
    const active: Active = { req, seed: req.sampling.seed ?? randomSeed(), queue, completionTokens: 1, eos, vl, constraints };
    this.active.set(req.id, active);
    this.scheduler.addPrefilled(req.id, req.promptTokenIds, req.cacheSalt, blocks, firstTokenId, this.cacheKeyOf(req));
    this.counters.generationTokens++;
    const reason = this.finishReason(active, firstTokenId);
    if (reason) this.emit(active, [], reason);
    this.wakeUp();
    return Object.assign(queue, { requestId: req.id, abort: () => this.abort(req.id) });
  }

  stats(): EngineStats {
    const ps = this.pool.stats();
    return {
      running: this.scheduler.numRunning,
      waiting: this.scheduler.numWaiting,
      numBlocks: this.pool.numBlocks,
      freeBlocks: this.pool.numFreeBlocks,
      kvUsage: this.pool.usage(),
      prefixCacheHitRate: ps.hitRate,
      prefixCacheQueriedTokens: ps.queriedTokens,
      prefixCacheHitTokens: ps.hitTokens,
      ...this.counters,
    };
  }

  /** Aborts everything and stops the loop. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const a of [...this.active.values()]) this.end(a, 'abort');
    this.wakeUp();
    await this.loopDone;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.active.size === 0) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      const out = this.scheduler.schedule();
      this.counters.preemptions += out.preempted.length;
      for (const f of out.failed) {
        const a = this.active.get(f.requestId);
        if (a) this.end(a, 'error', f.reason);
      }
      if (out.chunks.length === 0) {
        // Nothing runnable (e.g. all waiting for blocks held by nobody): wait for news.
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      if (this.faultStepDelayMs > 0) await new Promise((r) => setTimeout(r, this.faultStepDelayMs));
      try {
        await this.step(out);
      } catch (e) {
        // A defect in a step's bookkeeping must not end the loop (and with it the process):
        // the step's requests fail, everything else keeps being served.
        this.failChunks(out, `engine step failed: ${(e as Error).message}`);
      }
    }
  }

  private failChunks(out: SchedulerOutput, error: string): void {
    for (const c of out.chunks) {
      const a = this.active.get(c.requestId);
      if (a) this.end(a, 'error', error);
    }
  }

  private async step(out: SchedulerOutput): Promise<void> {
    this.counters.steps++;
    let logits: Float32Array[];
    try {
      logits = await this.runner.forward(
        out.chunks.map((c) => ({
          tokens: c.tokenIds, startPos: c.startPos, blockTable: c.blockTable, logits: c.sampleNext ? 'last' as const : 'none' as const,
          vl: this.active.get(c.requestId)?.vl?.chunk(c.startPos, c.tokenIds.length),
        })),
        this.layerListener(out),
      );
    } catch (e) {
      this.failChunks(out, `forward pass failed: ${(e as Error).message}`);
      return;
    }
    const sampled = new Map<string, number>();
    const produced = new Map<string, GeneratedToken>();
    const failed: Array<[Active, string]> = [];
    out.chunks.forEach((c, i) => {
      if (!c.sampleNext) return;
      const a = this.active.get(c.requestId);
      const seq = this.scheduler.get(c.requestId);
      if (!a || !seq) return; // aborted while the step ran
      try {
        const raw = logits[i]!;
        const remaining = Math.min(a.req.sampling.maxTokens - a.completionTokens, this.runner.maxModelLen - a.req.promptTokenIds.length - a.completionTokens);
        const row = a.constraints ? a.constraints.apply(raw, remaining) : raw;
        const tok = sampleToken(row, a.req.sampling, {
          promptTokenIds: a.req.promptTokenIds,
          outputTokenIds: seq.outputTokenIds,
          seed: a.seed,
        }, raw);
        a.constraints?.advance(tok.tokenId);
        sampled.set(c.requestId, tok.tokenId);
        produced.set(c.requestId, tok);
      } catch (e) {
        // This request alone fails (as if aborted while the step ran); the batch goes on.
        failed.push([a, `sampling failed: ${(e as Error).message}`]);
      }
    });
    for (const [a, error] of failed) this.end(a, 'error', error);
    this.scheduler.update(out, sampled);
    for (const [id, tok] of produced) {
      const a = this.active.get(id);
      if (!a) continue;
      a.completionTokens++;
      this.counters.generationTokens++;
      if (a.req.prefillOnly) {
        this.emitPrefilled(a, tok);
        continue;
      }
      const reason = this.finishReason(a, tok.tokenId);
      this.emit(a, [tok], reason);
    }
  }

  /** Per-layer KV progress for the step's chunks whose requests asked for it (layer-wise push). */
  private layerListener(out: SchedulerOutput): ((layer: number) => void) | undefined {
    const bs = this.runner.blockSize;
    const watched = out.chunks.flatMap((c) => {
      const listener = this.active.get(c.requestId)?.req.onKvWritten;
      if (!listener) return [];
      const end = c.startPos + c.tokenIds.length;
      // A block is final once every position in it is computed; the prompt's last, partly
      // filled block is final after the chunk that ends the prompt.
      const completeBlocks = c.sampleNext ? Math.ceil(end / bs) : Math.floor(end / bs);
      return [{ listener, blockTable: c.blockTable, completeBlocks, requestId: c.requestId }];
    });
    if (watched.length === 0) return undefined;
    return (layer) => {
      for (const w of watched) {
        if (!this.active.has(w.requestId)) continue; // aborted meanwhile
        try {
          w.listener({ layer, blockTable: w.blockTable, completeBlocks: w.completeBlocks });
        } catch {
          // A failing listener must not break the step for the other sequences; the request's
          // own transfer reports its error when it finishes.
        }
      }
    };
  }

  private isStopToken(a: Active, tokenId: number): boolean {
    const s: SamplingParams = a.req.sampling;
    return s.stopTokenIds.includes(tokenId) || (!s.ignoreEos && a.eos.has(tokenId));
  }

  private finishReason(a: Active, tokenId: number): FinishReason | undefined {
    const s: SamplingParams = a.req.sampling;
    if (this.isStopToken(a, tokenId)) return 'stop';
    // A structured output that nothing can extend is finished without waiting for an EOS.
    if (a.constraints?.complete) return 'stop';
    if (a.completionTokens >= s.maxTokens) return 'length';
    if (a.req.promptTokenIds.length + a.completionTokens >= this.runner.maxModelLen) return 'length';
    return undefined;
  }

  private emit(a: Active, tokens: GeneratedToken[], reason?: FinishReason, error?: string): void {
    const seq = this.scheduler.get(a.req.id);
    a.queue.push({
      requestId: a.req.id,
      tokens,
      finished: reason !== undefined,
      finishReason: reason,
      stopTokenId: reason === 'stop' && tokens.length > 0 && this.isStopToken(a, tokens[tokens.length - 1]!.tokenId) ? tokens[tokens.length - 1]!.tokenId : undefined,
      promptTokens: a.req.promptTokenIds.length,
      completionTokens: a.completionTokens,
      cachedPromptTokens: Math.max(0, seq?.cachedPromptTokens ?? 0),
      error,
    });
    if (reason !== undefined) this.close(a);
  }

  /** A prefill-only request is done after its first token; its KV blocks stay referenced for the transfer. */
  private emitPrefilled(a: Active, tok: GeneratedToken): void {
    const blocks = this.scheduler.detach(a.req.id);
    this.active.delete(a.req.id);
    a.queue.push({
      requestId: a.req.id,
      tokens: [tok],
      finished: true,
      finishReason: this.finishReason(a, tok.tokenId) ?? 'stop',
      promptTokens: a.req.promptTokenIds.length,
      completionTokens: 1,
      cachedPromptTokens: 0,
      prefilledBlocks: blocks,
    });
    a.queue.close();
    this.wakeUp();
  }

  private end(a: Active, reason: FinishReason, error?: string): void {
    this.emit(a, [], reason, error);
  }

  private close(a: Active): void {
    this.active.delete(a.req.id);
    this.scheduler.finish(a.req.id);
    a.queue.close();
    this.wakeUp();
  }
}
