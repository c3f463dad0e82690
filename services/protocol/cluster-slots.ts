/**
 * Cluster-wide admission: one running + waiting bound shared by every gateway of a cluster
 * (Kubernetes runs two gateway replicas; each bounding only itself would admit twice the limit).
 * Each gateway holds slots under its own holder id; a gateway that dies without giving its slots
 * back stops refreshing its liveness, and its slots are freed by the next gateway's acquire
 * once `holderTtlMs` has passed.
 */
export interface SlotGrant {
  granted: true;
  /** Gives the slots back (idempotent). */
  release(): void;
}

export interface SlotRefusal {
  granted: false;
  /** Slots held cluster-wide when refused. */
  held: number;
}

export interface ClusterSlots {
  readonly limit: number;
  /** Takes `n` slots of the shared limit for this holder, or refuses. */
  tryAcquire(n: number): Promise<SlotGrant | SlotRefusal>;
  /** Slots held cluster-wide now (every live holder). */
  held(): Promise<number>;
  /** Stops refreshing this holder's liveness (its slots expire after holderTtlMs unless released). */
  close(): Promise<void>;
}
