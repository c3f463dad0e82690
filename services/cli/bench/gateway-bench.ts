/**
 * `tandem bench gateway`: what the HTTP + SSE path adds on top of the engine. Each sample runs the
 * same request twice, back to back — once submitted to the engine directly, once through the
 * gateway over loopback with streaming — so machine noise hits both alike; the added latency is
 * the paired difference. A bare GET /health round trip is reported as the transport floor (what
 * any HTTP server costs this client). Then requests/s through the gateway at several concurrencies.
 */
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Engine } from '../../engine/loop/engine.js';
import type { SamplingParams } from '../../protocol/request.js';
import type { ServedModel } from '../../gateway/backend.js';
import { buildGateway } from '../../gateway/server.js';
import { summary } from './percentiles.js';

export interface GatewayBenchOptions {
  engine: Engine;
  served: ServedModel;
  samples?: number;
  concurrency?: number[];
  secondsPerLevel?: number;
  log?: (m: string) => void;
}

const PROMPT = 'Tandem benchmarks the gateway path with a short chat prompt.';

function sampling(maxTokens: number): SamplingParams {
  return { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens, stopTokenIds: [], ignoreEos: true };
}

async function direct(engine: Engine, ids: number[], maxTokens: number, n: number): Promise<number> {
  const t0 = performance.now();
  for await (const _ of engine.submit({ id: `bench-direct-${n}`, promptTokenIds: ids, sampling: sampling(maxTokens) })) {
    // drain
  }
  return performance.now() - t0;
}

/** Talks to the client worker thread: one request (latency) or a timed concurrent run. */
class HttpClient {
  private readonly worker = new Worker(new URL('./http-client-worker.js', import.meta.url));
  private next = 0;
  private readonly pending = new Map<number, (m: Record<string, number | string>) => void>();

  constructor() {
    this.worker.on('message', (m: { id: number } & Record<string, number | string>) => {
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
    });
  }

  private call(job: Record<string, unknown>): Promise<Record<string, number | string>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(String(m.error))) : resolve(m)));
      this.worker.postMessage({ ...job, id });
    });
  }

  async latency(url: string, model: string, maxTokens: number): Promise<number> {
    return (await this.call({ url, model, prompt: PROMPT, maxTokens })).ms as number;
  }

  async throughput(url: string, model: string, concurrency: number, seconds: number): Promise<{ completed: number; seconds: number }> {
    const r = await this.call({ url, model, prompt: PROMPT, maxTokens: 1, concurrency, seconds });
    return { completed: r.completed as number, seconds: r.seconds as number };
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

export async function runGatewayBench(o: GatewayBenchOptions) {
  const log = o.log ?? (() => {});
  const samples = o.samples ?? 200;
  const app = await buildGateway({ backend: { generate: (r) => o.engine.submit(r), stats: () => o.engine.stats() }, model: o.served });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/chat/completions`;
  const ids = o.served.tokenizer.encode(o.served.chatTemplate!.render({ messages: [{ role: 'user', content: PROMPT }], addGenerationPrompt: true, enableThinking: false }), { addSpecialTokens: false });

  const client = new HttpClient();
  const latency: Record<string, unknown> = {};
  log('[bench] transport floor: GET /health round trips');
  const floor: number[] = [];
  for (let i = 0; i < samples; i++) floor.push(await client.latency(url, o.served.name, 0));
  latency.transport_floor_ms = summary(floor.slice(5));
  let counter = 0;
  for (const tokens of [1, 64]) {
    log(`[bench] added latency, ${tokens}-token requests (${samples} paired samples)`);
    for (let w = 0; w < 5; w++) {
      await direct(o.engine, ids, tokens, counter++);
      await client.latency(url, o.served.name, tokens);
    }
    const d: number[] = [];
    const h: number[] = [];
    const added: number[] = [];
    for (let i = 0; i < samples; i++) {
      const a = await direct(o.engine, ids, tokens, counter++);
      const b = await client.latency(url, o.served.name, tokens);
      d.push(a);
      h.push(b);
      added.push(b - a);
    }
    latency[`tokens_${tokens}`] = { direct_ms: summary(d), http_sse_ms: summary(h), added_ms: summary(added) };
  }

  const throughput: Array<{ concurrency: number; requests_per_s: number; completed: number }> = [];
  for (const c of o.concurrency ?? [1, 16, 64]) {
    log(`[bench] requests/s at concurrency ${c}`);
    const r = await client.throughput(url, o.served.name, c, o.secondsPerLevel ?? 3);
    throughput.push({ concurrency: c, requests_per_s: r.completed / r.seconds, completed: r.completed });
  }
  await client.close();
  await app.close();
  return { bench: 'gateway', model: o.served.name, latency, throughput, target: { added_ms_p50: 1 } };
}
