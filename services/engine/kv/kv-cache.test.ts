import { describe, expect, it } from 'vitest';
import { native } from '../../../kernels/ts/index.js';
import { MAX_NATIVE_KV_BYTES } from './kv-cache.js';

describe('KV pool allocation', () => {
  it('the kernels refuse a native pool over 4 GiB with a clear error (it used to abort the process with a double free)', () => {
    expect(() => native.allocKvBuffer(MAX_NATIVE_KV_BYTES + 64)).toThrow(/at most 4 GiB/);
    expect(native.allocKvBuffer(1024).byteLength).toBe(1024);
  });
});
