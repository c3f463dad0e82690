/** Scheduler-side state of one request. Mutated only by the Scheduler. */
export class Sequence {
  readonly outputTokenIds: number[] = [];
  /** Physical KV blocks in order. */
  blocks: number[] = [];
  /** Chained hashes of the leading blocks that are full and registered (blocks[i] ↔ blockHashes[i]). */
  blockHashes: string[] = [];
  /** Tokens (prompt + output) whose KV is in `blocks`. */
  numComputed = 0;
  /** Prompt tokens served from the prefix cache at the first admission. */
  cachedPromptTokens = -1;
  status: 'waiting' | 'running' | 'finished' = 'waiting';
  preemptions = 0;

  constructor(
    readonly id: string,
    readonly promptTokenIds: readonly number[],
    readonly arrival: number,
    readonly cacheSalt: string | undefined,
    /** What prefix-cache hashes see in place of the prompt (image tokens keyed by mm_hash); default the prompt. */
    readonly promptCacheKey: readonly number[] = promptTokenIds,
  ) {}

  get length(): number {
    return this.promptTokenIds.length + this.outputTokenIds.length;
  }

  tokenAt(i: number): number {
    const p = this.promptTokenIds.length;
    return i < p ? this.promptTokenIds[i]! : this.outputTokenIds[i - p]!;
  }

  /** Like tokens(), with the prompt part taken from promptCacheKey: the input of block hashes. */
  hashTokens(from: number, to: number): number[] {
    const p = this.promptTokenIds.length;
    const out: number[] = [];
    for (let i = from; i < to; i++) out.push(i < p ? this.promptCacheKey[i]! : this.outputTokenIds[i - p]!);
    return out;
  }

  tokens(from: number, to: number): number[] {
    const out: number[] = [];
    for (let i = from; i < to; i++) out.push(this.tokenAt(i));
    return out;
  }
}
