import { apiError, type ApiError } from '../../../common/errors/index.js';

/**
 * Responses API fields this server cannot honour. As for chat (../unsupported.ts), each is
 * refused by name unless its value is the neutral one some clients always send: ignoring it
 * would answer something other than what was asked.
 */
interface UnsupportedRule {
  field: string;
  /** True when the value asks for nothing beyond default behaviour. */
  neutral: (value: unknown) => boolean;
  error: () => ApiError;
}

const refuse = (field: string, message: string) => () => apiError('unsupported_parameter', message, field);

/**
 * `include` values that ask for something this server would silently leave out. The others name
 * outputs of built-in tools that never run here, or `reasoning.encrypted_content`, which stateless
 * clients send with `store: false`: reasoning comes back as plain text in the reasoning item, and
 * is taken back in `input` as such, so there is nothing to encrypt.
 */
const UNHONOURED_INCLUDES = ['message.output_text.logprobs'];

const RULES: readonly UnsupportedRule[] = [
  {
    field: 'previous_response_id',
    neutral: () => false,
    error: () => apiError('previous_response_not_supported', undefined, 'previous_response_id'),
  },
  {
    field: 'conversation',
    neutral: () => false,
    error: refuse('conversation', "'conversation' is not supported: conversations are not stored on this server; send the whole conversation in 'input'."),
  },
  {
    field: 'prompt',
    neutral: () => false,
    error: refuse('prompt', "'prompt' (stored prompt templates) is not supported; send 'instructions' and 'input'."),
  },
  {
    field: 'background',
    neutral: (v) => v === false,
    error: refuse('background', "'background' is not supported: responses are not stored, so they cannot be fetched later; use 'stream' for long generations."),
  },
  {
    field: 'truncation',
    neutral: (v) => v === 'disabled',
    error: refuse('truncation', "'truncation: \"auto\"' is not supported: the input is never cut; an input longer than the context window is refused with context_length_exceeded."),
  },
  {
    field: 'top_logprobs',
    neutral: (v) => v === 0,
    error: refuse('top_logprobs', "'top_logprobs' is not supported on /v1/responses; use /v1/chat/completions with 'logprobs' for token log-probabilities."),
  },
  {
    field: 'include',
    neutral: (v) => Array.isArray(v) && !v.some((x) => UNHONOURED_INCLUDES.includes(x as string)),
    error: refuse('include', "'include: [\"message.output_text.logprobs\"]' is not supported on /v1/responses; use /v1/chat/completions with 'logprobs' for token log-probabilities."),
  },
  {
    field: 'service_tier',
    neutral: (v) => v === 'auto' || v === 'default',
    error: refuse('service_tier', "'service_tier' other than \"auto\" or \"default\" is not supported: this server has one tier."),
  },
];

/**
 * Throws for the first present, non-neutral unsupported field. Runs before the schema, as for chat,
 * so `previous_response_id` gets its own answer whatever else is wrong; the checks are type-safe.
 */
export function rejectUnsupportedResponsesFields(body: Record<string, unknown>): void {
  for (const rule of RULES) {
    if (body[rule.field] !== undefined && !rule.neutral(body[rule.field])) throw rule.error();
  }
  const verbosity = (body.text as { verbosity?: string } | undefined)?.verbosity;
  if (verbosity !== undefined && verbosity !== 'medium') {
    throw apiError('unsupported_parameter', "'text.verbosity' other than \"medium\" is not supported: the models served here have no verbosity control.", 'text.verbosity');
  }
}
