/**
 * Tracing is opt-in through the standard OTel variables: without them (or with
 * OTEL_SDK_DISABLED=true / OTEL_TRACES_EXPORTER=none) no tracer provider is registered, spans are
 * the API's no-ops and nothing reaches a collector, while trace ids still join a request's legs.
 * The control run with the same receiver shows it would have seen spans.
 */
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTracing, outgoingTraceparent, tracer, tracingConfigFromEnv, tracingEnabled } from '../../services/common/telemetry/index.js';
import { parseTraceparent } from '../../services/common/trace-context.js';
import { startTandemUp } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

describe('which environments turn tracing on', () => {
  const on = (env: NodeJS.ProcessEnv) => tracingConfigFromEnv('tandem-x', env);
  it('an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp|console turns it on', () => {
    expect(on({}).enabled).toBe(false);
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toMatchObject({ enabled: true, exporters: ['otlp'], serviceName: 'tandem-x' });
    expect(on({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }).enabled).toBe(true);
    expect(on({ OTEL_TRACES_EXPORTER: 'otlp' }).exporters).toEqual(['otlp']);
    expect(on({ OTEL_TRACES_EXPORTER: 'console' }).exporters).toEqual(['console']);
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SERVICE_NAME: 'mine' }).serviceName).toBe('mine');
  });
  it('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none win over an endpoint; unknown exporters are reported', () => {
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
    const z = on({ OTEL_TRACES_EXPORTER: 'zipkin' });
    expect(z.enabled).toBe(false);
    expect(z.warnings[0]).toMatch(/zipkin/);
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).warnings[0]).toMatch(/http\/json/);
  });
});

describe('tracing off in this process', () => {
  it('registers no provider: spans do not record, traceparents still join the trace', () => {
    const h = initTracing('tandem-test', { env: {} });
    expect(h.enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);
    const span = tracer().startSpan('x');
    expect(span.isRecording()).toBe(false);
    expect(trace.getTracerProvider().getTracer('y').startSpan('z').isRecording()).toBe(false);
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const out = parseTraceparent(outgoingTraceparent(incoming));
    expect(out?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(out?.spanId).not.toBe('00f067aa0ba902b7');
  });
});

describe('tandem up: nothing reaches the collector unless tracing is on', () => {
  let modelDir: string;
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    modelDir = genTinyModel();
    receiver = await startOtlpReceiver();
  }, 120_000);
  afterAll(async () => {
    await receiver?.close();
  });

  async function oneRequest(env: Record<string, string>): Promise<string | null> {
    const up = await startTandemUp(['--model', modelDir, '--served-model-name', 'tiny'], { OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_TRACES_EXPORTER: '', OTEL_SERVICE_NAME: '', ...env });
    try {
      const res = await fetch(`${up.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ') }], max_tokens: 3 }),
      });
      expect(res.status).toBe(200);
      await res.text();
      // Several batch intervals: anything buffered would have been sent by now.
      await new Promise((r) => setTimeout(r, 1000));
      return res.headers.get('traceparent');
    } finally {
      await up.stop();
    }
  }

  it('OTEL_SDK_DISABLED=true with an endpoint set: no export request at all, the traceparent header still answers', async () => {
    const tp = await oneRequest({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' });
    expect(parseTraceparent(tp)).toBeDefined();
    expect(receiver.requests).toBe(0);
  });

  it('no OTEL variables at all: no export request', async () => {
    await oneRequest({ OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_SDK_DISABLED: '' });
    expect(receiver.requests).toBe(0);
  });

  it('control: the same run with the endpoint and tracing on exports the whole in-process trace, flushed at exit', async () => {
    // A batch delay far beyond the run: the spans can only arrive through the flush on shutdown.
    const tp = parseTraceparent(await oneRequest({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: '', OTEL_BSP_SCHEDULE_DELAY: '600000' }));
    const names = new Set(receiver.spans.filter((s) => s.traceId === tp?.traceId).map((s) => s.name));
    for (const n of ['gateway.request', 'router.generate', 'router.plan', 'worker.prefill', 'kv.transfer', 'worker.decode']) expect(names, n).toContain(n);
    expect(receiver.spans.every((s) => s.service === 'tandem')).toBe(true);
  });
});
