/** Finish reasons a client can see; the engine's 'abort'/'error' never reach a response body. */
export type ChatFinishReason = 'stop' | 'length' | 'tool_calls';
export type CompletionFinishReason = 'stop' | 'length';
