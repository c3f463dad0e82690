/**
 * deploy/compose.yaml is a valid compose file for the compose tool itself (no container engine
 * runs here, so `config` is the strongest check available), and its resolved form has the
 * topology the deploy README promises.
 */
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCompose } from './compose-tool.js';
import { deployDir } from './repo-files.js';

describe('docker compose config', () => {
  it('validates deploy/compose.yaml (config -q exits 0, no warnings)', () => {
    const r = runCompose(['-f', 'compose.yaml', 'config', '-q'], deployDir);
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('resolves to the full topology: infrastructure, model generator, Tandem pools and observability', () => {
    const r = runCompose(['-f', 'compose.yaml', 'config'], deployDir);
    expect(r.status, r.stderr).toBe(0);
    const resolved = parse(r.stdout) as { services: Record<string, { image: string; networks?: unknown }> };
    expect(Object.keys(resolved.services).sort()).toEqual(
      ['cluster-certs', 'cluster-secret', 'decode-text', 'gateway', 'grafana', 'jaeger', 'metrics-key', 'model', 'nats', 'nats-credentials', 'otel-collector', 'prefill-text', 'prefill-vision', 'prometheus', 'redis', 'redis-credentials', 'router'].sort(),
    );
    // The anchors resolved as the tool reads them: every Tandem role runs the one image.
    for (const s of ['cluster-secret', 'model', 'router', 'prefill-vision', 'prefill-text', 'decode-text', 'gateway']) expect(resolved.services[s]!.image).toBe('tandem:dev');
    // Defaults are the official images (deploy/offline-images.sh's stand-ins only through TANDEM_*_IMAGE).
    expect(resolved.services.nats!.image).toBe('nats:2.10-alpine');
    expect(resolved.services.redis!.image).toBe('redis:7-alpine');
  });
});
