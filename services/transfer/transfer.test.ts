/**
 * The transfer contract for each backend. tcp and ucx run the receiver in a second process
 * (dist/services/transfer/receiver-process.js, compiled by the `pretest` tsc run; see
 * receiver-client.ts), the local backend runs both engines in this process.
 */
import { createHash } from 'node:crypto';
import { native } from '../../kernels/ts/index.js';
import { LocalTransferEngine } from './local-backend.js';
import { fillPattern } from './pattern.js';
import { RemoteReceiver } from './receiver-client.js';
import { testGrantGuard } from './receiver-process.js';
import { createTransferEngine, ucxAvailability } from './transfer-engine.js';
import { runTransferContract } from './transfer.contract.js';

runTransferContract(
  'local (one process)',
  async (bytes, seed, grant) => {
    const owner = new LocalTransferEngine();
    const region = native.allocKvBuffer(bytes);
    const view = fillPattern(new Uint8Array(region), seed);
    const descriptor = await owner.registerRegion('kv', region, grant ? { guard: testGrantGuard(grant) } : {});
    const sender = await createTransferEngine('local');
    const slice = (offset = 0, length = bytes - offset) => view.subarray(offset, offset + length);
    return {
      sender,
      receiver: {
        descriptor,
        digest: async (offset, length) => createHash('sha256').update(slice(offset, length)).digest('hex'),
        read: async (offset, length) => slice(offset, length).slice(),
        kill: () => owner.close(),
        close: () => owner.close(),
      },
    };
  },
  { receiverValidates: true, guardedRegionsChecked: true, goneCodes: ['peer_unreachable'] },
);

runTransferContract(
  'tcp (two processes)',
  async (bytes, seed, grant) => ({
    receiver: await RemoteReceiver.spawn({ backend: 'tcp', bytes, seed, ...(grant ? { grant } : {}) }),
    sender: await createTransferEngine('tcp'),
  }),
  { receiverValidates: true, guardedRegionsChecked: true, goneCodes: ['peer_unreachable', 'peer_failed'] },
);

const ucx = ucxAvailability();
runTransferContract(
  'ucx (two processes)',
  async (bytes, seed, grant) => ({
    receiver: await RemoteReceiver.spawn({ backend: 'ucx', bytes, seed, ...(grant ? { grant } : {}) }),
    sender: await createTransferEngine('ucx'),
  }),
  {
    // Plain UCX puts are one-sided: nothing on the receiver can check them, the sender's check is
    // all. Guarded regions take checked puts (active messages the receiver admits first).
    receiverValidates: false,
    guardedRegionsChecked: true,
    goneCodes: ['peer_unreachable', 'peer_failed', 'ucx'],
    ...(ucx.ok ? {} : { skip: `UCX unavailable: ${ucx.reason}` }),
  },
);
