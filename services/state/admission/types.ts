import type { ClusterSlots, SlotGrant, SlotRefusal } from '../../protocol/cluster-slots.js';

export type { ClusterSlots, SlotGrant, SlotRefusal };

export interface ClusterSlotsOptions {
  /** This gateway's id (unique per process). */
  holder: string;
  /** The shared bound (running + waiting, in choices). */
  limit: number;
  /** How long a holder's slots outlive its last liveness refresh. Default 10 s. */
  holderTtlMs?: number;
}

export const DEFAULT_HOLDER_TTL_MS = 10_000;

/** A grant whose release gives the slots back once, however often it is called. */
export function grantOnce(giveBack: () => void): SlotGrant {
  let released = false;
  return {
    granted: true,
    release: () => {
      if (released) return;
      released = true;
      giveBack();
    },
  };
}
