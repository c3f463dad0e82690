import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KeyValueWatchEvent } from '../bus/index.js';
import { encodeJson } from '../bus/index.js';
import { AsyncQueue } from '../common/async-queue.js';
import { REGISTRY_TTL_MS, type WorkerRecord } from '../protocol/registry.js';
import { RegistryView } from './registry-view.js';

const record = (id: string): WorkerRecord => ({
  id,
  role: 'decode-text',
  model: 'm',
  grpc: '127.0.0.1:1',
  layout: { numLayers: 1, numBlocks: 8, blockSize: 16, numKvHeads: 1, headDim: 8, dtype: 'bf16' } as unknown as WorkerRecord['layout'],
  load: { running: 0, waiting: 0, kvUsage: 0, freeBlocks: 8 },
  startedAtMs: 0,
});
const put = (id: string): KeyValueWatchEvent => ({ op: 'put', key: id, value: encodeJson(record(id)) });

/** A bucket whose watches the test drives: each watch() call opens the next queue. */
function fakeBucket() {
  const watches: Array<AsyncQueue<KeyValueWatchEvent>> = [];
  return {
    watches,
    watch: () => {
      const q = new AsyncQueue<KeyValueWatchEvent>();
      watches.push(q);
      return q;
    },
  };
}

const ids = (v: RegistryView) => v.all().map((w) => w.id).sort();
const tick = () => new Promise((r) => setTimeout(r, 0));

afterEach(() => {
  vi.useRealTimers();
});

describe('RegistryView', () => {
  it('drops a deleted or expired worker at once', async () => {
    const v = new RegistryView();
    const kv = fakeBucket();
    void v.follow(kv);
    kv.watches[0]!.push(put('a'));
    kv.watches[0]!.push(put('b'));
    await tick();
    expect(ids(v)).toEqual(['a', 'b']);
    kv.watches[0]!.push({ op: 'delete', key: 'a' });
    await tick();
    expect(ids(v)).toEqual(['b']);
    v.stop();
  });

  it('keeps a record lost with the server store until its worker puts it again, or one TTL', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const v = new RegistryView();
    const kv = fakeBucket();
    void v.follow(kv);
    kv.watches[0]!.push(put('alive'));
    kv.watches[0]!.push(put('dead'));
    await tick();
    kv.watches[0]!.push({ op: 'delete', key: 'alive', lost: true });
    kv.watches[0]!.push({ op: 'delete', key: 'dead', lost: true });
    await tick();
    // Still routable while the workers re-register.
    expect(ids(v)).toEqual(['alive', 'dead']);
    vi.advanceTimersByTime(1000);
    kv.watches[0]!.push(put('alive'));
    await tick();
    vi.advanceTimersByTime(REGISTRY_TTL_MS);
    expect(ids(v)).toEqual(['alive']);
    v.stop();
  });

  it('does not count a worker silent while the router itself is cut off from NATS', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const v = new RegistryView();
    const kv = fakeBucket();
    void v.follow(kv);
    const bus = { online: true };
    v.trackBus(bus);
    kv.watches[0]!.push(put('a'));
    await tick();
    vi.advanceTimersByTime(3000);
    expect(v.silentForMs('a')).toBe(3000);
    bus.online = false;
    vi.advanceTimersByTime(5000);
    expect(v.silentForMs('a')).toBeLessThanOrEqual(100);
    bus.online = true;
    vi.advanceTimersByTime(2000);
    expect(v.silentForMs('a')).toBeGreaterThanOrEqual(1900);
    expect(v.silentForMs('a')).toBeLessThanOrEqual(2000);
    expect(v.silentForMs('never')).toBe(Infinity);
    v.stop();
  });

  it('watches again after a watch fails; records it may have missed are on probation', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout'] });
    const v = new RegistryView();
    const kv = fakeBucket();
    void v.follow(kv);
    kv.watches[0]!.push(put('a'));
    kv.watches[0]!.push(put('b'));
    await vi.advanceTimersByTimeAsync(0);
    kv.watches[0]!.fail(new Error('JetStream unavailable'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(kv.watches).toHaveLength(2);
    expect(ids(v)).toEqual(['a', 'b']);
    // The new watch replays what the bucket holds: only a.
    kv.watches[1]!.push(put('a'));
    await vi.advanceTimersByTimeAsync(REGISTRY_TTL_MS + 1);
    expect(ids(v)).toEqual(['a']);
    kv.watches[1]!.push(put('c'));
    await vi.advanceTimersByTimeAsync(0);
    expect(ids(v)).toEqual(['a', 'c']);
    v.stop();
  });
});
