/**
 * Resource abuse at the edge, against a real `tandem up`: a huge message list is refused before
 * any per-message work, a client that trickles its headers is cut off at the headers timeout, and
 * clients uploading bodies over the limit all receive the 413 (no broken pipe).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny';
let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startTandemUp(['--model', genTinyModel(), '--served-model-name', MODEL], { TANDEM_HEADERS_TIMEOUT_MS: '1000' });
});
afterAll(async () => cluster?.stop());

const chat = (body: object) => fetch(`${cluster.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('resource limits', () => {
  it('100,000 messages (3 MB) are a 400 on messages, without walking them; a normal request next to them is served', async () => {
    const messages = Array.from({ length: 100_000 }, () => ({ role: 'user', content: 'hi' }));
    const t0 = performance.now();
    const [big, normal] = await Promise.all([chat({ model: MODEL, messages }), chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })]);
    const ms = performance.now() - t0;
    expect(big.status).toBe(400);
    expect((await big.json()).error.param).toBe('messages');
    expect(normal.status).toBe(200);
    // Before the limit: ≈1.1 s of gateway CPU per such body (docs/reliability.md).
    expect(ms).toBeLessThan(1000);
  });

  it('a prompt certainly over the context window is refused before it is tokenized (chat and completions)', async () => {
    const text = 'lorem ipsum dolor sit amet, '.repeat(120_000); // 3.4 MB
    const completions = (body: object) => fetch(`${cluster.baseURL}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const send of [() => chat({ model: MODEL, messages: [{ role: 'user', content: text }] }), () => completions({ model: MODEL, prompt: text })]) {
      const r = await send();
      expect(r.status).toBe(400);
      const err = (await r.json()).error as { code: string; message: string };
      expect(err.code).toBe('context_length_exceeded');
      expect(err.message).toMatch(/at least \d+ tokens \(refused before tokenizing it\)/);
    }
    // Just under the bound's reach, the exact count still decides (and says how many tokens).
    const r = await chat({ model: MODEL, messages: [{ role: 'user', content: 'lorem ipsum '.repeat(3000) }] });
    expect(r.status).toBe(400);
    expect((await r.json()).error.message).toMatch(/but the messages has \d+ tokens/);
  });

  it('8 MiB bodies, 8 at a time: every client gets the 413 (the gateway reads the rest before answering), never a broken pipe', async () => {
    const big = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(8 * 1024 * 1024) }] });
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          try {
            const r = await fetch(`${cluster.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
            const body = (await r.json()) as { error?: { code?: string } };
            outcomes.push(`${r.status} ${body.error?.code}`);
          } catch (e) {
            outcomes.push(String((e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message));
          }
        }),
      );
    }
    // Before: about half of them EPIPE.
    expect(outcomes.filter((o) => o !== '413 body_too_large')).toEqual([]);
    // And the gateway still serves.
    expect((await chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })).status).toBe(200);
  }, 60_000);

  it('a client trickling its headers is disconnected at the headers timeout', async () => {
    const { port, hostname } = new URL(cluster.origin);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
    const t0 = Date.now();
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
    const closedAfter = await new Promise<number>((r) => {
      socket.once('close', () => r(Date.now() - t0));
      socket.on('error', () => undefined);
      setTimeout(() => r(Infinity), 10_000);
    });
    clearInterval(trickle);
    socket.destroy();
    expect(closedAfter).toBeLessThan(4000);
  });
});
