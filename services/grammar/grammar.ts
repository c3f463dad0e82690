/**
 * The constraint language of Tandem's structured outputs: a byte-level grammar, plain data.
 *
 * The gateway compiles what the client asked for (`response_format` json_object / json_schema,
 * a forced tool call) into a `Grammar`, checks it, and sends it with the request; workers turn
 * it into token masks against their vocabulary (token-mask.ts) without ever seeing text. Being
 * plain JSON, a grammar has a stable content hash (grammarKey) that workers cache compiled
 * matchers under.
 *
 * Semantics: the output's UTF-8 bytes must be a sentence of `rules[root]`; generation may end
 * (EOS) only when they are. No insignificant whitespace is generated anywhere: the JSON comes out
 * compact, which keeps a random model from padding forever and the minimal completion short.
 */
export interface Grammar {
  /** Rule names to expressions; `ref` expressions call rules (recursion allowed, not left recursion). */
  rules: Record<string, Expr>;
  /** The rule the whole output must match. */
  root: string;
}

export type Expr =
  /** Exactly this text (UTF-8). The empty string matches the empty sentence. */
  | { k: 'lit'; text: string }
  /** One byte within one of the inclusive ranges [lo, hi] (0..255). */
  | { k: 'bytes'; ranges: Array<[number, number]> }
  | { k: 'seq'; items: Expr[] }
  /** One of the alternatives (at least one). */
  | { k: 'alt'; items: Expr[] }
  /**
   * `item` repeated min..max times (max absent: unbounded), with `sep` between two repetitions.
   * Bounded repetitions are unrolled, so keep max small (<= 64).
   */
  | { k: 'repeat'; item: Expr; min: number; max?: number; sep?: Expr }
  /** Calls rule `rule`. */
  | { k: 'ref'; rule: string }
  /**
   * A JSON string literal, quotes included: any valid UTF-8, escapes as JSON allows, no raw
   * control characters. Length bounds count characters (an escape is one), at most 512.
   */
  | { k: 'string'; minLength?: number; maxLength?: number }
  /**
   * A JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, or with `integer` only
   * `-?(0|[1-9][0-9]*)`. Digit runs are capped (15 integer digits, 15 fraction digits, 2 exponent
   * digits) so values stay finite doubles (JSON.parse never gives Infinity).
   */
  | { k: 'number'; integer?: boolean }
  /** Any UTF-8 text in which `text` never occurs (e.g. plain content that must not call a tool). */
  | { k: 'without'; text: string };

/** Limits a grammar must stay within (checked by validateGrammar before anything is compiled). */
export const GRAMMAR_LIMITS = {
  maxRules: 256,
  maxNodes: 20_000,
  maxRepeat: 64,
  maxStringLength: 512,
  maxLiteralBytes: 4096,
} as const;
