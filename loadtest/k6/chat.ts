/**
 * Non-streaming OpenAI chat traffic: `k6 run loadtest/k6/chat.ts -e BASE_URL=... -e RATE=2`.
 * Reports k6's http_req_duration (the whole completion) plus token counts from `usage`.
 */
import { check } from 'k6';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { arrivalOptions, BASE_URL, chatBody, headers } from './common.ts';

const completionTokens = new Counter('completion_tokens');
const promptTokens = new Trend('prompt_tokens');

export const options = arrivalOptions({
  http_req_failed: ['rate<0.01'],
  checks: ['rate>0.99'],
});

interface ChatResponse {
  choices?: Array<{ message?: { content?: string | null }; finish_reason?: string }>;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export default function (): void {
  const res = http.post(`${BASE_URL}/chat/completions`, JSON.stringify(chatBody(false)), { headers: headers(), timeout: '600s' });
  const body = res.status === 200 ? (res.json() as ChatResponse) : undefined;
  check(res, {
    'status is 200': (r) => r.status === 200,
    'has a choice': () => (body?.choices?.length ?? 0) > 0,
    'reports usage': () => (body?.usage?.completion_tokens ?? 0) > 0,
  });
  if (body?.usage) {
    completionTokens.add(body.usage.completion_tokens);
    promptTokens.add(body.usage.prompt_tokens);
  }
}
