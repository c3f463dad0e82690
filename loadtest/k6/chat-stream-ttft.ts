/**
 * Streaming chat with TTFT and TPOT per request, needs k6 built with xk6-sse (see
 * loadtest/README.md): `./k6 run loadtest/k6/chat-stream-ttft.ts -e BASE_URL=... -e RATE=2`.
 * TTFT is timed to the first chunk carrying a token (text, or a logprob with LOGPROBS=1) — the
 * gateway's leading role-only chunk is sent before any token exists and would flatter it.
 */
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import sse from 'k6/x/sse';
import { arrivalOptions, BASE_URL, chatBody, headers } from './common.ts';

const ttft = new Trend('ttft', true);
const tpot = new Trend('tpot', true);
const e2e = new Trend('e2e', true);
const streamErrors = new Counter('stream_errors');

export const options = arrivalOptions({
  ttft: ['p(99)<10000'],
  tpot: ['p(99)<500'],
  stream_errors: ['count<1'],
});

interface Chunk {
  choices?: Array<{ delta?: { content?: string | null; reasoning_content?: string | null }; logprobs?: { content?: unknown[] | null } | null }>;
  usage?: { completion_tokens: number } | null;
  error?: { message: string };
}

export default function (): void {
  const start = Date.now();
  let first = 0;
  let tokens = 0;
  let done = false;
  const res = sse.open(`${BASE_URL}/chat/completions`, { method: 'POST', body: JSON.stringify(chatBody(true)), headers: headers() }, (client) => {
    client.on('event', (event) => {
      if (event.data === '[DONE]') {
        done = true;
        client.close();
        return;
      }
      const chunk = JSON.parse(event.data) as Chunk;
      if (chunk.error) {
        streamErrors.add(1);
        client.close();
        return;
      }
      const token = chunk.choices?.some((c) => !!c.delta?.content || !!c.delta?.reasoning_content || (c.logprobs?.content?.length ?? 0) > 0) ?? false;
      if (token && first === 0) first = Date.now();
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    });
    client.on('error', (e) => {
      streamErrors.add(1);
      console.error(`stream error: ${e.error()}`);
    });
  });
  const end = Date.now();
  check(res, {
    'status is 200': (r) => r.status === 200,
    'stream finished with [DONE]': () => done,
    'first token arrived': () => first > 0,
  });
  if (first > 0) {
    ttft.add(first - start);
    e2e.add(end - start);
    if (tokens > 1) tpot.add((end - first) / (tokens - 1));
  }
}
