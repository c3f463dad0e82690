import { GrammarError, type GrammarCache, type GrammarState } from '../../grammar/index.js';
import type { EngineRequest } from '../request-types.js';

/**
 * What one request changes about its logits before sampling: its grammar's token mask
 * (structured output) and its logit_bias. Both are pure functions of the request and the tokens
 * it has produced, so every worker that samples for it (prefill, decode, a migrated decode)
 * makes the same choice.
 */
/** One row for every request: sampling consumes it before the next request's row is built. */
let scratch = new Float32Array(0);

export class LogitConstraints {
  private constructor(
    private readonly grammar: GrammarState | undefined,
    private readonly bias: Array<[number, number]>,
  ) {}

  /**
   * The constraints of `req`, with its grammar advanced over `produced` (tokens generated before
   * this worker took over); undefined when it has none. Throws RangeError when the grammar
   * cannot be used here (malformed, no vocabulary on this worker) or the tokens break it.
   */
  static of(req: EngineRequest, grammars: GrammarCache | undefined, endIds: readonly number[], produced: readonly number[]): LogitConstraints | undefined {
    const bias = Object.entries(req.sampling.logitBias ?? {}).map(([id, b]) => [Number(id), b] as [number, number]);
    if (req.grammar === undefined && bias.length === 0) return undefined;
    let grammar: GrammarState | undefined;
    if (req.grammar !== undefined) {
      if (!grammars) throw new RangeError(`request ${req.id}: structured output needs the model's vocabulary, which this worker was started without`);
      try {
        grammar = grammars.start(req.grammar, endIds);
      } catch (e) {
        if (e instanceof GrammarError) throw new RangeError(`request ${req.id}: ${e.message}`);
        throw e;
      }
      for (const t of produced) grammar.advance(t);
    }
    return new LogitConstraints(grammar, bias);
  }

  /** The output is a complete sentence of the grammar that nothing can extend. */
  get complete(): boolean {
    return this.grammar?.complete ?? false;
  }

  /**
   * `logits` with the mask and biases applied (a scratch row shared by all requests, valid until the next call).
   * `remaining` counts the tokens the request may still produce, this one included.
   */
  apply(logits: Float32Array, remaining: number): Float32Array {
    if (scratch.length !== logits.length) scratch = new Float32Array(logits.length);
    const out = scratch;
    if (this.grammar) this.grammar.apply(logits, remaining, out);
    else out.set(logits);
    for (const [id, b] of this.bias) if (id < out.length) out[id] = out[id]! + b;
    return out;
  }

  /** Feeds the token just sampled to the grammar. */
  advance(tokenId: number): void {
    this.grammar?.advance(tokenId);
  }
}
