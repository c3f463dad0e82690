import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { benchTransfer } from './bench.js';
import { ucxAvailability } from './transfer-engine.js';
import type { TransferBackend } from './types.js';

const backends: TransferBackend[] = ucxAvailability().ok ? ['local', 'tcp', 'ucx'] : ['local', 'tcp'];

describe('benchTransfer', () => {
  it.each(backends)('measures %s put bandwidth and verifies the bytes', async (backend) => {
    const r = await benchTransfer({ backend, bytes: 256 << 10, repeats: 5, warmup: 1 });
    expect(r.verified).toBe(true);
    expect(r.repeats).toBe(5);
    expect(r.opsPerPut).toBe(1);
    expect(r.bandwidth.median).toBeGreaterThan(0);
    expect(r.crossProcess).toBe(backend !== 'local');
    if (backend === 'ucx') expect(r.transport).toMatch(/lane/);
  });

  it('measures tcp with a transfer key (TLS-PSK, receiver in another process) and verifies the bytes', async () => {
    const r = await benchTransfer({ backend: 'tcp', bytes: 256 << 10, repeats: 3, warmup: 1, authKey: randomBytes(32) });
    expect(r.verified).toBe(true);
    expect(r.crossProcess).toBe(true);
  });

  it('splits puts into blocks, coalesced unless scattered, with concurrent puts', async () => {
    const together = await benchTransfer({ backend: 'tcp', bytes: 64 << 10, blockBytes: 4096, repeats: 3, warmup: 0 });
    expect(together.opsPerPut).toBe(1);
    const scattered = await benchTransfer({ backend: 'tcp', bytes: 64 << 10, blockBytes: 4096, scatter: true, repeats: 3, warmup: 0, concurrency: 4 });
    expect(scattered.opsPerPut).toBe(16);
    expect(scattered.verified).toBe(true);
  });
});
