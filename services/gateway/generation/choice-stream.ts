import type { RequestStream } from '../../protocol/request.js';
import type { GeneratedToken, RequestOutput } from '../../protocol/request.js';
import { IncrementalDetokenizer } from '../../text/incremental-detokenizer.js';
import { ReasoningParser } from '../../text/reasoning-parser.js';
import { StopStringMatcher } from '../../text/stop-matcher.js';
import { ToolCallParser, type ToolCallDelta } from '../../text/tool-call-parser.js';
import type { Tokenizer } from '../../text/tokenizer.js';

export interface ChoiceStreamOptions {
  tokenizer: Tokenizer;
  stop: string[];
  /** Split `</think>` reasoning out of the content (chat only). */
  parseReasoning: boolean;
  thinkingEnabled: boolean;
  /** Parse `<tool_call>` blocks into tool calls (chat with tools only). */
  parseTools: boolean;
  logprobs: boolean;
}

export interface TokenLogprobInfo {
  token: string;
  bytes: number[];
  logprob: number;
  top: Array<{ token: string; bytes: number[]; logprob: number }>;
}

export type ChoiceFinish = 'stop' | 'length' | 'tool_calls' | 'abort' | 'error';

/** What one choice adds to the response since its previous delta. */
export interface ChoiceDelta {
  content: string;
  reasoning: string;
  toolCalls: ToolCallDelta['calls'];
  logprobs: TokenLogprobInfo[];
  finishReason?: ChoiceFinish;
  error?: string;
  errorCode?: RequestOutput['errorCode'];
  promptTokens: number;
  completionTokens: number;
  cachedPromptTokens: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function logprobInfo(tok: Tokenizer, t: GeneratedToken): TokenLogprobInfo {
  const describe = (id: number) => {
    const bytes = tok.tokenBytes(id);
    return { token: utf8.decode(bytes), bytes: [...bytes] };
  };
  return {
    ...describe(t.tokenId),
    logprob: t.logprob ?? 0,
    top: (t.topLogprobs ?? []).map((x) => ({ ...describe(x.tokenId), logprob: x.logprob })),
  };
}

/**
 * Turns one engine request's token stream into text deltas: incremental detokenization (never
 * half a UTF-8 character), stop strings (held back until they can no longer match; a match ends
 * the request and frees its KV at once), then the reasoning and tool-call splits.
 */
export async function* choiceDeltas(stream: RequestStream, o: ChoiceStreamOptions): AsyncGenerator<ChoiceDelta> {
  const detok = new IncrementalDetokenizer(o.tokenizer, { skipSpecialTokens: true });
  const stops = new StopStringMatcher(o.stop);
  const reasoning = o.parseReasoning ? new ReasoningParser({ thinkingEnabled: o.thinkingEnabled }) : undefined;
  const tools = o.parseTools ? new ToolCallParser() : undefined;
  let sawToolCall = false;

  const delta = (): ChoiceDelta => ({ content: '', reasoning: '', toolCalls: [], logprobs: [], promptTokens: 0, completionTokens: 0, cachedPromptTokens: 0 });
  const route = (d: ChoiceDelta, text: string, flushAll: boolean) => {
    let content = text;
    if (reasoning) {
      const r = reasoning.push(text);
      const f = flushAll ? reasoning.flush() : { reasoning: '', content: '' };
      d.reasoning += r.reasoning + f.reasoning;
      content = r.content + f.content;
    }
    if (tools) {
      const t = tools.push(content);
      const f = flushAll ? tools.flush() : { content: '', calls: [] };
      d.content += t.content + f.content;
      d.toolCalls.push(...t.calls, ...f.calls);
      if (d.toolCalls.length > 0) sawToolCall = true;
    } else d.content += content;
  };

  for await (const out of stream) {
    const d = delta();
    d.promptTokens = out.promptTokens;
    d.completionTokens = out.completionTokens;
    d.cachedPromptTokens = out.cachedPromptTokens;
    let stopped = false;
    let flushed = false;
    for (const t of out.tokens) {
      if (o.logprobs) d.logprobs.push(logprobInfo(o.tokenizer, t));
      const s = stops.push(detok.push(t.tokenId));
      route(d, s.emit, false);
      if (s.stopped) {
        stopped = true;
        break;
      }
    }
    if (!stopped && out.finished) {
      // The request ended on its own: release held-back text through the whole pipeline.
      const s = stops.push(detok.flush());
      if (s.stopped) stopped = true;
      route(d, s.emit + (s.stopped ? '' : stops.flush()), true);
      flushed = true;
    }
    if (stopped) {
      stream.abort();
      if (!flushed) route(d, '', true);
      d.finishReason = sawToolCall ? 'tool_calls' : 'stop';
      yield d;
      return;
    }
    if (out.finished) {
      d.finishReason = out.finishReason === 'stop' && sawToolCall ? 'tool_calls' : out.finishReason;
      d.error = out.error;
      d.errorCode = out.errorCode;
    }
    yield d;
    if (out.finished) return;
  }
}
