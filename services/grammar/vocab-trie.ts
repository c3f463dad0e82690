/**
 * The bytes of every token id (the model's vocabulary as the grammar layer sees it). Workers get
 * it from the model's tokenizer files at start; it carries no text processing, only what each id
 * stands for.
 */
export interface TokenVocabulary {
  /** Ids 0..size-1 are described; logits past it are never allowed under a grammar. */
  readonly size: number;
  /** Bytes of one token; empty for tokens that stand for no text (control tokens). */
  bytes(id: number): Uint8Array;
}

/**
 * All tokens in one byte trie, flattened into arrays: walking it with a grammar's matcher visits
 * each shared prefix once, so a mask costs one step per trie node the grammar lets through.
 */
export class VocabTrie {
  /** Children of node n: childByte/childNode[childStart[n] .. childStart[n + 1]). */
  readonly childStart: Int32Array;
  readonly childByte: Uint8Array;
  readonly childNode: Int32Array;
  /** Tokens ending at node n: tokenIds[tokenStart[n] .. tokenStart[n + 1]). */
  readonly tokenStart: Int32Array;
  readonly tokenIds: Int32Array;
  readonly nodes: number;
  /** Byte values that some token is exactly (every byte of a byte-fallback vocabulary). */
  readonly singleByteTokens: Uint8Array;

  constructor(vocab: TokenVocabulary) {
    // Build with maps, then flatten (children sorted by byte, so walks are in a fixed order).
    const children: Array<Map<number, number>> = [new Map()];
    const ending: number[][] = [[]];
    this.singleByteTokens = new Uint8Array(256);
    for (let id = 0; id < vocab.size; id++) {
      const b = vocab.bytes(id);
      if (b.length === 0) continue;
      if (b.length === 1) this.singleByteTokens[b[0]!] = 1;
      let node = 0;
      for (const byte of b) {
        let c = children[node]!.get(byte);
        if (c === undefined) {
          c = children.length;
          children.push(new Map());
          ending.push([]);
          children[node]!.set(byte, c);
        }
        node = c;
      }
      ending[node]!.push(id);
    }
    const n = children.length;
    this.nodes = n;
    this.childStart = new Int32Array(n + 1);
    this.tokenStart = new Int32Array(n + 1);
    let edges = 0;
    let tokens = 0;
    for (let i = 0; i < n; i++) {
      this.childStart[i] = edges;
      this.tokenStart[i] = tokens;
      edges += children[i]!.size;
      tokens += ending[i]!.length;
    }
    this.childStart[n] = edges;
    this.tokenStart[n] = tokens;
    this.childByte = new Uint8Array(edges);
    this.childNode = new Int32Array(edges);
    this.tokenIds = new Int32Array(tokens);
    for (let i = 0; i < n; i++) {
      const sorted = [...children[i]!.entries()].sort((a, b) => a[0] - b[0]);
      sorted.forEach(([byte, node], j) => {
        this.childByte[this.childStart[i]! + j] = byte;
        this.childNode[this.childStart[i]! + j] = node;
      });
      ending[i]!.forEach((id, j) => (this.tokenIds[this.tokenStart[i]! + j] = id));
    }
  }
}
