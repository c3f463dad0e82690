/**
 * Where a receiver's memory (a decode worker's KV pool, a prefill worker's embedding inbox) can be
 * written by one-sided puts: part of its worker record. Defined here, not in services/transfer,
 * because the router and workers exchange it without caring which transport reads it.
 */

export type TransferBackend = 'ucx' | 'tcp' | 'local';

/** What a receiver publishes (in its worker registry record) so senders can write into its memory. JSON-serializable. */
export interface RegionDescriptor {
  backend: TransferBackend;
  regionId: string;
  size: number;
  /**
   * Backend-specific. tcp: `host`, `port`, `engine`. ucx: `workerAddress` and `rkey` (base64),
   * `baseAddress` (decimal string), `access` ('checked': a guarded region, no rkey, checked puts
   * only; 'rma'), `pid`, `boot`, `start`, `check` (digest binding all fields together).
   * local: `engine` (process-unique id), `pid`.
   */
  endpoint: Record<string, string | number>;
}
