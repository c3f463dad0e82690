/**
 * The two critical defects found by probing the gateway as an attacker would, kept as fuzz
 * suites against a real `tandem up --api-key` process (in-process disaggregation, the default):
 *
 * 1. one request must never kill the server: every numeric parameter at the edges of and beyond
 *    its range (int32 / uint32 / 2^53 / ±1e308 / fractions) is answered 200 or 4xx, never 5xx,
 *    and the process keeps serving;
 * 2. no API-key bypass: every spelling of an API path that the router matches (percent-encoded
 *    letters and digits, doubled slashes, dot segments, query strings) needs the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny';
const KEY = 'sk-fuzz-1';
let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startTandemUp(['--model', genTinyModel(), '--served-model-name', MODEL, '--api-key', KEY, '--max-model-len', '256']);
});
afterAll(async () => cluster?.stop());

async function post(path: string, body: string, auth = true): Promise<{ status: number; text: string }> {
  const res = await fetch(`${cluster.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${KEY}` } : {}) },
    body,
  });
  return { status: res.status, text: await res.text() };
}

// Raw JSON spellings: some are not representable after JSON.parse (1e400 → Infinity).
const EDGE_VALUES = [
  '2147483647', '2147483648', '-2147483648', '-2147483649', '4294967295', '4294967296', '9007199254740991',
  '9007199254740993', '1e308', '-1e308', '1e400', '-1e400', '1.5', '-0', '0', '-1', '1', '2', '20', '21', '5e-324', '0.999999999',
];
const CHAT_FIELDS = ['temperature', 'top_p', 'top_k', 'min_p', 'presence_penalty', 'frequency_penalty', 'repetition_penalty', 'seed', 'max_tokens', 'max_completion_tokens', 'n', 'top_logprobs'];
const COMPLETION_FIELDS = ['temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'seed', 'max_tokens', 'n', 'logprobs'];
const RESPONSES_FIELDS = ['temperature', 'top_p', 'max_output_tokens', 'top_logprobs', 'max_tool_calls'];

function chatBody(field: string, raw: string): string {
  const extra = field === 'top_logprobs' ? '"logprobs": true,' : '';
  const max = field === 'max_tokens' || field === 'max_completion_tokens' ? '' : '"max_tokens": 2,';
  return `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],${extra}${max}"${field}":${raw}}`;
}

function completionBody(field: string, raw: string): string {
  const max = field === 'max_tokens' ? '' : '"max_tokens": 2,';
  return `{"model":"${MODEL}","prompt":"hi",${max}"${field}":${raw}}`;
}

function responsesBody(field: string, raw: string): string {
  const max = field === 'max_output_tokens' ? '' : '"max_output_tokens": 2,';
  return `{"model":"${MODEL}","input":"hi",${max}"${field}":${raw}}`;
}

describe('one request never kills the server', () => {
  it('top_k 2147483648 (wrapped to a negative int32 before) is a 400 at the edge', async () => {
    const r = await post('/v1/chat/completions', chatBody('top_k', '2147483648'));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error).toMatchObject({ code: 'invalid_parameter', param: 'top_k' });
  });

  it(`every numeric parameter at ${EDGE_VALUES.length} edge values → 200 or 4xx, never 5xx; the server keeps serving`, async () => {
    const seen = new Map<number, number>();
    const fiveXX: string[] = [];
    const cases = [
      ...CHAT_FIELDS.flatMap((f) => EDGE_VALUES.map((v) => ['/v1/chat/completions', f, chatBody(f, v)] as const)),
      ...COMPLETION_FIELDS.flatMap((f) => EDGE_VALUES.map((v) => ['/v1/completions', f, completionBody(f, v)] as const)),
      ...RESPONSES_FIELDS.flatMap((f) => EDGE_VALUES.map((v) => ['/v1/responses', f, responsesBody(f, v)] as const)),
    ];
    for (let i = 0; i < cases.length; i += 8) {
      await Promise.all(cases.slice(i, i + 8).map(async ([path, field, body]) => {
        const r = await post(path, body);
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        if (r.status >= 500) fiveXX.push(`${path} ${field}: ${r.status} ${r.text.slice(0, 200)} ← ${body}`);
        else if (r.status !== 200) expect(JSON.parse(r.text).error.type).toBe('invalid_request_error');
      }));
    }
    expect(fiveXX).toEqual([]);
    expect(seen.get(200)).toBeGreaterThan(50);
    expect(seen.get(400)).toBeGreaterThan(50);
    expect(cluster.proc.exitCode).toBeNull();
    const ok = await post('/v1/chat/completions', chatBody('temperature', '0'));
    expect(ok.status).toBe(200);
  });
});

// Seeded random requests: several fields at once, any JSON type in any field, broken JSON,
// path spellings; what a fuzzer throws at an exposed endpoint. Same seed, same 5,000 requests.
describe('5,000 random requests', () => {
  function lcg(seed: number): () => number {
    let x = seed >>> 0;
    return () => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x / 2 ** 32;
    };
  }
  const rand = lcg(20261207);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const VALUES: readonly string[] = [
    ...EDGE_VALUES, 'null', 'true', 'false', '""', '"x"', '"0"', `"${'a'.repeat(5000)}"`, '"\u0000\ud800"', '[]', '[1,2,3]', '["a"]', '[[[]]]', '{}',
    '{"type":"json_object"}', '{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}', '{"a":{"b":[null]}}', '[{"role":"user","content":"hi"}]',
    '[{"role":"tool","content":5}]', '[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]', '{"1":100,"50":-100}', '{"99999999":5}',
  ];
  const EXTRA = ['stream', 'stop', 'logit_bias', 'response_format', 'tools', 'tool_choice', 'user', 'cache_salt', 'messages', 'prompt', 'input', 'model', 'stream_options', 'logprobs', 'echo', 'suffix', 'instructions', 'text'];
  const ENDPOINTS = [
    { paths: ['/v1/chat/completions', '/v1/chat/completions/', '/v1/chat/completions?x=1', '/v%31/chat/completions'], fields: CHAT_FIELDS, base: `"messages":[{"role":"user","content":"hi"}]` },
    { paths: ['/v1/completions', '/v1/completions?y', '/%761/completions'], fields: COMPLETION_FIELDS, base: '"prompt":"hi"' },
    { paths: ['/v1/responses', '/v1/%72esponses'], fields: RESPONSES_FIELDS, base: '"input":"hi"' },
  ];

  function randomRequest(): { path: string; body: string } {
    const e = pick(ENDPOINTS);
    const fields = new Map<string, string>([['model', `"${MODEL}"`]]);
    fields.set(e.fields === RESPONSES_FIELDS ? 'max_output_tokens' : 'max_tokens', '3');
    const mutations = 1 + Math.floor(rand() * 4);
    for (let m = 0; m < mutations; m++) fields.set(rand() < 0.6 ? pick(e.fields) : pick(EXTRA), pick(VALUES));
    let body = `{${e.base},${[...fields].map(([k, v]) => `"${k}":${v}`).join(',')}}`;
    if (rand() < 0.05) body = body.slice(0, Math.floor(rand() * body.length)); // broken JSON
    return { path: pick(e.paths), body };
  }

  it('are answered 2xx or 4xx (never 5xx), each in time, and the server keeps serving', async () => {
    const requests = Array.from({ length: 5000 }, randomRequest);
    const seen = new Map<number, number>();
    const bad: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const { path, body } = requests[next++]!;
        try {
          const res = await fetch(`${cluster.origin}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
            body,
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          if (res.status >= 500) bad.push(`${res.status} ${text.slice(0, 200)} ← ${path} ${body.slice(0, 300)}`);
        } catch (e) {
          bad.push(`${(e as Error).name}: ${(e as Error).message} ← ${path} ${body.slice(0, 300)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    if (process.env.TANDEM_FUZZ_PRINT) console.log(JSON.stringify(Object.fromEntries(seen)));
    expect(bad).toEqual([]);
    expect(seen.get(200)).toBeGreaterThan(100);
    expect(seen.get(400)).toBeGreaterThan(1000);
    expect(cluster.proc.exitCode).toBeNull();
    expect((await post('/v1/chat/completions', chatBody('temperature', '0'))).status).toBe(200);
  }, 600_000);
});

describe('no API-key bypass', () => {
  const SPELLINGS = [
    '/v1/chat/completions', '/v%31/chat/completions', '/%761/chat/completions', '/%76%31/chat/completions', '/v1/%63hat/completions',
    '/v1/chat/%63ompletions', '/v1/chat%2Fcompletions', '/V1/chat/completions', '//v1/chat/completions', '/v1//chat/completions',
    '/./v1/chat/completions', '/x/../v1/chat/completions', '/v1/chat/completions?x=1', '/v1/chat/completions/', '/v1/completions',
    '/v%31/completions', '/%761/completions', '/v1/models', '/v%31/models', '/%2576%31/models',
    '/v1/responses', '/v%31/responses', '/v1/%72esponses',
  ];

  it.each(SPELLINGS)('POST %s without a key is refused', async (path) => {
    const body = path.includes('models') ? '' : path.includes('chat') ? chatBody('temperature', '0') : completionBody('temperature', '0');
    const res = await fetch(`${cluster.origin}${path}`, { method: path.includes('models') ? 'GET' : 'POST', headers: body ? { 'content-type': 'application/json' } : {}, body: body || undefined });
    const text = await res.text();
    // 401 when the path reaches an API route; 404/405 when it matches nothing. Never an answer.
    expect([401, 404, 405]).toContain(res.status);
    expect(text).not.toMatch(/"choices"|"object":"list"|"object":"response"/);
  });

  it('the same spellings with the key are either served or a 404, and health stays open', async () => {
    const res = await fetch(`${cluster.origin}/v%31/models`, { headers: { authorization: `Bearer ${KEY}` } });
    expect([200, 404]).toContain(res.status);
    expect((await fetch(`${cluster.origin}/health`)).status).toBe(200);
  });
});
