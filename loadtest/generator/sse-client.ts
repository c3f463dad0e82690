/**
 * One streaming chat completion over plain fetch, timed at the client. Only chunks that carry
 * generated tokens count as tokens arriving — text (content, reasoning or tool-call deltas) or,
 * with `logprobs`, a token's logprob entry: the gateway sends the assistant role chunk before any
 * token is computed, and timing that would flatter TTFT. Logprobs exist for checkpoints whose
 * tokens decode to no text (the random-weight 0.3B one mostly samples ids past its tokenizer's
 * vocabulary): without them such a stream has no per-token chunks to time.
 */
import type { DatasetItem } from './dataset.js';

export interface RequestTiming {
  id: number;
  /** performance.now() when the request was sent, and when the stream ended */
  sentMs: number;
  endMs: number;
  /** arrival times of the chunks that carried generated tokens */
  chunkMs: number[];
  promptTokens?: number;
  /** usage.completion_tokens, else the number of token-carrying chunks */
  outputTokens: number;
  ok: boolean;
  error?: string;
}

export interface SendOptions {
  url: string;
  model: string;
  apiKey?: string;
  /** ask the server to ignore EOS so outputs have exactly max_tokens (the gateway accepts it) */
  ignoreEos: boolean;
  /** ask for logprobs, so every token arrives as a chunk even when it decodes to no text */
  logprobs?: boolean;
  timeoutMs: number;
}

export function requestBody(item: DatasetItem, o: Pick<SendOptions, 'model' | 'ignoreEos' | 'logprobs'>): Record<string, unknown> {
  const content = item.image
    ? [{ type: 'text', text: item.text }, { type: 'image_url', image_url: { url: item.image } }]
    : item.text;
  return {
    model: o.model,
    messages: [{ role: 'user', content }],
    max_tokens: item.maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
    ...(o.ignoreEos ? { ignore_eos: true } : {}),
    ...(o.logprobs ? { logprobs: true } : {}),
  };
}

interface Chunk {
  choices?: Array<{ delta?: { content?: string | null; reasoning_content?: string | null; tool_calls?: unknown[] }; logprobs?: { content?: unknown[] | null } | null }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string; code?: string };
}

function carriesTokens(c: Chunk): boolean {
  return (c.choices ?? []).some(
    (ch) => (!!ch.delta && (!!ch.delta.content || !!ch.delta.reasoning_content || (ch.delta.tool_calls?.length ?? 0) > 0)) || (ch.logprobs?.content?.length ?? 0) > 0,
  );
}

export async function sendStreaming(item: DatasetItem, o: SendOptions, now: () => number = () => performance.now()): Promise<RequestTiming> {
  const t: RequestTiming = { id: item.id, sentMs: now(), endMs: 0, chunkMs: [], outputTokens: 0, ok: false };
  let usageTokens: number | undefined;
  let sawDone = false;
  try {
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) },
      body: JSON.stringify(requestBody(item, o)),
      signal: AbortSignal.timeout(o.timeoutMs),
    });
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '');
      let msg = text.slice(0, 200);
      try {
        msg = (JSON.parse(text) as Chunk).error?.message ?? msg;
      } catch {
        // not JSON: keep the raw text
      }
      throw new Error(`HTTP ${res.status}: ${msg}`);
    }
    const decoder = new TextDecoder();
    let buf = '';
    for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
      const at = now();
      buf += decoder.decode(bytes, { stream: true });
      let sep: number;
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        const data = event
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (data === '') continue;
        if (data === '[DONE]') {
          sawDone = true;
          continue;
        }
        const chunk = JSON.parse(data) as Chunk;
        if (chunk.error) throw new Error(chunk.error.message ?? chunk.error.code ?? 'error event in stream');
        if (carriesTokens(chunk)) t.chunkMs.push(at);
        if (chunk.usage) usageTokens = chunk.usage.completion_tokens;
        if (chunk.usage?.prompt_tokens !== undefined) t.promptTokens = chunk.usage.prompt_tokens;
      }
    }
    if (!sawDone) throw new Error('stream ended without [DONE]');
    if (t.chunkMs.length === 0) throw new Error('no chunk carried a token (tokens that decode to no text need --logprobs)');
    t.ok = true;
  } catch (e) {
    t.error = (e as Error).message;
  }
  t.endMs = now();
  t.outputTokens = usageTokens ?? t.chunkMs.length;
  return t;
}
