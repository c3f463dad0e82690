import { MemoryBus } from '../../bus/index.js';
import { ClusterKeys } from '../../common/security/cluster-keys.js';
import { RouterBackend } from '../../gateway/router-backend.js';
import type { ServedModel } from '../../gateway/backend.js';
import { loadServedModel } from '../../gateway/served-model.js';
import type { GenerationBackend } from '../../protocol/generation-backend.js';
import { startRouter } from '../../router/start-router.js';
import { MemorySequenceStore } from '../../state/index.js';
import { createTransferEngine } from '../../transfer/transfer-engine.js';
import { startWorker, type RunningWorker, type WorkerOptions } from '../../worker/start-worker.js';

export interface InProcessCluster {
  backend: GenerationBackend & { close(): void };
  served: ServedModel;
  close(): Promise<void>;
}

/**
 * The embedded default: disaggregated inside one process. A prefill-text and a decode-text
 * worker, the router and the gateway's backend talk exactly as in a cluster (gRPC on loopback,
 * the same handshake and KV push), with the in-memory bus and state store and the in-process
 * transfer backend standing in for NATS, Redis and UCX.
 */
export async function startInProcessDisagg(o: Omit<WorkerOptions, 'role' | 'bus' | 'transfer'>): Promise<InProcessCluster> {
  const bus = new MemoryBus();
  // Its gRPC ports listen on loopback, where any local user could call them: throw-away keys
  // (never written anywhere) authenticate the calls between the parts of this one process.
  const keys = ClusterKeys.ephemeral();
  const store = new MemorySequenceStore();
  const workers: RunningWorker[] = [];
  const served = await loadServedModel(o.modelDir, { name: o.servedModelName, maxModelLen: o.maxModelLen });
  // A vision-language model gets the whole E/P/D path: a Prefill-Vision worker too.
  const roles = served.takesImages ? (['decode-text', 'prefill-text', 'prefill-vision'] as const) : (['decode-text', 'prefill-text'] as const);
  for (const role of roles) {
    workers.push(await startWorker({ ...o, role, bus, transfer: await createTransferEngine('local'), keys }));
  }
  const router = await startRouter({ bus, store, keys });
  const backend = new RouterBackend(router.address, undefined, undefined, undefined, keys.grpc);
  return {
    backend,
    served,
    async close() {
      backend.close();
      await router.close();
      for (const w of workers) await w.close();
      await store.close();
      await bus.close();
    },
  };
}
