/**
 * Settings and request bodies shared by the k6 scripts. Everything comes from environment
 * variables (k6 run -e NAME=value) so one script serves any gateway:
 *   BASE_URL   gateway base URL (default http://127.0.0.1:8000/v1)
 *   MODEL      served model name (default ernie-4.5-tiny)
 *   API_KEY    bearer token, if the gateway wants one
 *   RATE       requests per second (default 2), DURATION (default 1m), MAX_VUS (default 64)
 *   MAX_TOKENS output tokens per request (default 64)
 *   LONG_FRACTION / LONG_WORDS / SHORT_WORDS   the long/short prompt mix (default 0.2 / 800 / 40)
 *   LOGPROBS=1 ask for a logprob per token, so tokens that decode to no text still arrive as
 *              chunks the streaming script can time (the random-weight 0.3B checkpoint)
 */
import type { Options } from 'k6/options';

export const BASE_URL = (__ENV.BASE_URL ?? 'http://127.0.0.1:8000/v1').replace(/\/+$/, '');
export const MODEL = __ENV.MODEL ?? 'ernie-4.5-tiny';
export const MAX_TOKENS = Number(__ENV.MAX_TOKENS ?? 64);

const num = (name: string, fallback: number): number => (__ENV[name] === undefined ? fallback : Number(__ENV[name]));

export function headers(): Record<string, string> {
  const h: Record<string, string> = { 'Content-Type': 'application/json' };
  if (__ENV.API_KEY) h.Authorization = `Bearer ${__ENV.API_KEY}`;
  return h;
}

/** Open-loop arrivals (k6's constant-arrival-rate): a slow server gets queued load, not less load. */
export function arrivalOptions(thresholds: Options['thresholds']): Options {
  return {
    scenarios: {
      chat: {
        executor: 'constant-arrival-rate',
        rate: num('RATE', 2),
        timeUnit: '1s',
        duration: __ENV.DURATION ?? '1m',
        preAllocatedVUs: Math.min(16, num('MAX_VUS', 64)),
        maxVUs: num('MAX_VUS', 64),
      },
    },
    thresholds,
  };
}

const WORDS = 'the keeper wrote weather ships fog stairs sea light evening measure number request model server answer river garden'.split(' ');

/** A prompt of `n` pseudo-random words; the mix of long and short prompts is what stresses prefill vs decode. */
export function prompt(): string {
  const long = Math.random() < num('LONG_FRACTION', 0.2);
  const n = long ? num('LONG_WORDS', 800) : num('SHORT_WORDS', 40);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(Math.random() * WORDS.length)]!);
  return out.join(' ');
}

export interface ChatBody {
  model: string;
  messages: Array<{ role: 'user'; content: string }>;
  max_tokens: number;
  temperature: number;
  ignore_eos: boolean;
  stream?: boolean;
  stream_options?: { include_usage: boolean };
  logprobs?: boolean;
}

export function chatBody(stream: boolean): ChatBody {
  const body: ChatBody = { model: MODEL, messages: [{ role: 'user', content: prompt() }], max_tokens: MAX_TOKENS, temperature: 0, ignore_eos: true };
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  if (__ENV.LOGPROBS === '1') body.logprobs = true;
  return body;
}
