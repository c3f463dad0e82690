import { Ajv, type ValidateFunction } from 'ajv';
import { ajvErrorToApiError } from './ajv-errors.js';
import { chatCompletionRequestSchema } from './chat-schema.js';
import { completionRequestSchema } from './completion-schema.js';
import { responsesRequestSchema } from './responses-api/schema.js';

// One Ajv instance and compilation at module load: compiling per request would cost milliseconds.
// allErrors is off so validation stops at the first violation, which is the one reported.
const ajv = new Ajv({ allErrors: false, verbose: true, strict: true, allowUnionTypes: true });

const validators = {
  chat: ajv.compile(chatCompletionRequestSchema),
  completion: ajv.compile(completionRequestSchema),
  responses: ajv.compile(responsesRequestSchema),
} satisfies Record<string, ValidateFunction>;

/** Throws the ApiError for the first schema violation of a request body. */
export function assertMatchesSchema(kind: keyof typeof validators, body: Record<string, unknown>): void {
  const validate = validators[kind];
  if (validate(body)) return;
  const first = validate.errors?.[0];
  if (first) throw ajvErrorToApiError(first);
  throw new Error(`schema validation of a ${kind} request failed without an error report`);
}
