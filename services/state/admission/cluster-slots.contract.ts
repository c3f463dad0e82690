/**
 * What every ClusterSlots implementation must do, as one vitest suite: one bound shared by
 * several holders (gateways), exact under concurrency, slots given back on release, and a dead
 * holder's slots freed once its liveness runs out. Not a *.test.ts file: imported by
 * cluster-slots.test.ts for the memory table and the real Redis.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterSlots, SlotGrant } from './types.js';

/** Opens a holder on the shared bound under test (`ttlMs`: its liveness TTL). */
export type OpenHolder = (holder: string, limit: number, ttlMs?: number) => Promise<ClusterSlots>;

export function runClusterSlotsContract(name: string, freshBound: () => OpenHolder): void {
  describe(`cluster admission slots: ${name}`, () => {
    it('two holders share one bound exactly, under concurrent acquires', async () => {
      const open = freshBound();
      const [a, b] = await Promise.all([open('gw-a', 10), open('gw-b', 10)]);
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).tryAcquire(1)));
      const granted = results.filter((r): r is SlotGrant => r.granted);
      expect(granted).toHaveLength(10);
      expect(await a.held()).toBe(10);
      const refused = results.find((r) => !r.granted);
      expect(refused).toEqual({ granted: false, held: 10 });
      for (const g of granted) g.release();
      await until(async () => (await b.held()) === 0);
      await Promise.all([a.close(), b.close()]);
    });

    it('n slots at once, all or none; release is idempotent', async () => {
      const open = freshBound();
      const a = await open('gw-a', 5);
      const three = await a.tryAcquire(3);
      expect(three.granted).toBe(true);
      expect((await a.tryAcquire(3)).granted).toBe(false);
      expect(await a.held()).toBe(3);
      const two = await a.tryAcquire(2);
      expect(two.granted).toBe(true);
      (three as SlotGrant).release();
      (three as SlotGrant).release();
      await until(async () => (await a.held()) === 2);
      (two as SlotGrant).release();
      await until(async () => (await a.held()) === 0);
      await a.close();
    });

    it("a holder that stops (killed: never releases) has its slots freed once its liveness runs out", async () => {
      const open = freshBound();
      const dead = await open('gw-dead', 4, 200);
      const live = await open('gw-live', 4, 200);
      for (let i = 0; i < 4; i++) expect((await dead.tryAcquire(1)).granted).toBe(true);
      await dead.close(); // stops refreshing, as a killed process would
      expect((await live.tryAcquire(1)).granted).toBe(false);
      await new Promise((r) => setTimeout(r, 400));
      // The live holder keeps refreshing; the dead one's slots are swept by its next acquire.
      expect((await live.tryAcquire(4)).granted).toBe(true);
      expect(await live.held()).toBe(4);
      await live.close();
    });
  });
}

async function until(ok: () => Promise<boolean>, ms = 2000): Promise<void> {
  for (const t0 = Date.now(); !(await ok()); ) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
