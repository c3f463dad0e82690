/** The Responses API (POST /v1/responses): request parsing into a chat request, and the output side. */
export { parseResponsesRequest, type ParsedResponsesRequest } from './parse.js';
export { inResponsesTerms } from './input-errors.js';
export { ResponseEventBuilder, type OutputDelta, type OutputFinish } from './output-events.js';
export { buildResponseObject, newResponseMeta, responsesUsage, type ResponseMeta } from './response-object.js';
export type * from './types.js';
