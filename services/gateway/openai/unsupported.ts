import { apiError } from '../../common/errors/index.js';

/**
 * OpenAI parameters this server cannot honour. Silently ignoring them would return something
 * other than what the client asked for, so each is refused by name, unless its value is the
 * neutral one (e.g. `echo: false`) that some clients always send.
 */
interface UnsupportedRule {
  field: string;
  kinds: ReadonlyArray<'chat' | 'completion'>;
  /** True when the value asks for nothing beyond default behaviour. */
  neutral: (value: unknown, body: Record<string, unknown>) => boolean;
  message: string;
}

const RULES: readonly UnsupportedRule[] = [
  {
    field: 'echo',
    kinds: ['completion'],
    neutral: (v) => v === false,
    message: "'echo' is not supported: the prompt is not returned with the completion.",
  },
  {
    field: 'best_of',
    kinds: ['completion'],
    // best_of equal to n asks for no extra candidates, so it is plain n-way sampling.
    neutral: (v, body) => v === (body.n ?? 1),
    message: "'best_of' is not supported; use 'n' to get several completions.",
  },
  {
    field: 'suffix',
    kinds: ['completion'],
    neutral: (v) => v === '',
    message: "'suffix' is not supported: the models served here have no insertion (fill-in-the-middle) mode.",
  },
  {
    field: 'audio',
    kinds: ['chat'],
    neutral: () => false,
    message: "'audio' output is not supported: the models served here produce text only.",
  },
  {
    field: 'modalities',
    kinds: ['chat'],
    neutral: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text',
    message: "'modalities' other than [\"text\"] are not supported.",
  },
  {
    field: 'functions',
    kinds: ['chat'],
    neutral: () => false,
    message: "'functions' is deprecated and not supported; use 'tools'.",
  },
  {
    field: 'function_call',
    kinds: ['chat'],
    neutral: () => false,
    message: "'function_call' is deprecated and not supported; use 'tool_choice'.",
  },
  {
    field: 'prediction',
    kinds: ['chat'],
    neutral: () => false,
    message: "'prediction' (predicted outputs) is not supported.",
  },
  {
    field: 'web_search_options',
    kinds: ['chat'],
    neutral: () => false,
    message: "'web_search_options' is not supported: this server has no web search.",
  },
];

/** Throws unsupported_parameter for the first present, non-neutral unsupported field. */
export function rejectUnsupported(kind: 'chat' | 'completion', body: Record<string, unknown>): void {
  for (const rule of RULES) {
    if (!rule.kinds.includes(kind) || body[rule.field] === undefined) continue;
    if (!rule.neutral(body[rule.field], body)) throw apiError('unsupported_parameter', rule.message, rule.field);
  }
}
