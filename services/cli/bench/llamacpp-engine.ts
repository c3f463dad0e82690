/**
 * The llama.cpp side of `tandem bench llamacpp`, through node-llama-cpp (installed into the
 * Tandem cache on first use, tools/gguf/node-llama-cpp.ts): one GGUF loaded on the CPU, one context
 * with a fixed thread count, prompts given as token ids, greedy generation.
 */
import { CliError } from '../cli-error.js';
import { loadNodeLlamaCpp, type NodeLlamaCpp } from '../../../tools/gguf/node-llama-cpp.js';

type Llama = Awaited<ReturnType<NodeLlamaCpp['getLlama']>>;
type LlamaModel = Awaited<ReturnType<Llama['loadModel']>>;
type LlamaContext = Awaited<ReturnType<LlamaModel['createContext']>>;
type LlamaSequence = ReturnType<LlamaContext['getSequence']>;

export interface TimedRun {
  prefillSeconds: number;
  decodeSeconds: number;
  /** The first token (from the prefill) and one per decode step. */
  tokens: number[];
}

export interface LlamaCppInfo {
  package_version: string;
  llama_cpp_release: string;
  build: string;
  flash_attention: boolean | 'auto';
  /** Threads the llama.cpp context evaluates with. */
  threads: number;
}

let cached: Promise<{ lib: NodeLlamaCpp; llama: Llama }> | undefined;

async function llamaRuntime(): Promise<{ lib: NodeLlamaCpp; llama: Llama }> {
  cached ??= (async () => {
    let lib: NodeLlamaCpp;
    try {
      lib = await loadNodeLlamaCpp((m) => process.stderr.write(m + '\n'));
    } catch (e) {
      throw new CliError(`tandem bench llamacpp could not install or load node-llama-cpp (it needs the npm registry once): ${(e as Error).message}`);
    }
    // Prebuilt CPU binaries only, never a source build; maxThreads 0 = each context gets exactly the threads it asks for.
    const llama = await lib.getLlama({ gpu: false, build: 'never', maxThreads: 0, logLevel: lib.LlamaLogLevel.error, progressLogs: false });
    return { lib, llama };
  })();
  return cached;
}

export class LlamaCppEngine {
  private constructor(
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly seq: LlamaSequence,
    readonly info: LlamaCppInfo,
  ) {}

  /** Loads `gguf` with a context of `contextSize` tokens evaluating up to `batchSize` at once on `threads` threads. */
  static async open(gguf: string, o: { threads: number; contextSize: number; batchSize: number }): Promise<LlamaCppEngine> {
    const { lib, llama } = await llamaRuntime();
    const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
    const context = await model.createContext({ contextSize: o.contextSize, batchSize: o.batchSize, threads: o.threads, sequences: 1 });
    return new LlamaCppEngine(model, context, context.getSequence(), {
      package_version: await lib.getModuleVersion(),
      llama_cpp_release: llama.llamaCppRelease.release,
      build: llama.buildType,
      flash_attention: context.flashAttention,
      threads: context.currentThreads,
    });
  }

  /** Prefill of `prompt` (timed until the first token), then `gen` greedy decode steps (timed). */
  async run(prompt: number[], gen: number): Promise<TimedRun> {
    await this.seq.clearHistory();
    const it = this.seq.evaluate(prompt as never[], { temperature: 0, yieldEogToken: true });
    const tokens: number[] = [];
    try {
      const t0 = performance.now();
      const first = await it.next();
      const t1 = performance.now();
      if (first.done) throw new Error('llama.cpp generated no token');
      tokens.push(first.value as number);
      for (let i = 0; i < gen; i++) {
        const r = await it.next();
        if (r.done) throw new Error(`llama.cpp stopped after ${tokens.length} tokens`);
        tokens.push(r.value as number);
      }
      const t2 = performance.now();
      return { prefillSeconds: (t1 - t0) / 1000, decodeSeconds: (t2 - t1) / 1000, tokens };
    } finally {
      await it.return();
    }
  }

  /**
   * Teacher-forced next-token logits over `tokens`: per position llama.cpp's top-1 id and logit,
   * and its logit of `probe[i]` (e.g. the other engine's top-1 at that position).
   */
  async topLogits(tokens: number[], probe: number[]): Promise<Array<{ top: number; topLogit: number; probeLogit: number }>> {
    await this.seq.clearHistory();
    const items = tokens.map((t, i) => [t, { generateNext: { logits: { filter: { tokens: [probe[i]!], includeTop: 1 } } } }]);
    const out = await this.seq.controlledEvaluate(items as never);
    return tokens.map((_, i) => {
      const logits = out[i]?.next.logits;
      if (!logits) throw new Error(`llama.cpp returned no logits for position ${i}`);
      const [top, topLogit] = logits.entries().next().value as [number, number];
      return { top, topLogit, probeLogit: logits.get(probe[i] as never) ?? NaN };
    });
  }

  async close(): Promise<void> {
    this.seq.dispose();
    await this.context.dispose();
    await this.model.dispose();
  }
}
