import { randomBytes } from 'node:crypto';

/**
 * Ids in OpenAI's spellings (`resp_…`, `msg_…`, `fc_…`, `rs_…`): clients and log tooling tell
 * object kinds apart by prefix. 96 random bits, as for chat completion ids (../ids.ts).
 */
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

export const newResponseId = () => newId('resp');
export const newMessageId = () => newId('msg');
export const newFunctionCallId = () => newId('fc');
export const newReasoningId = () => newId('rs');
