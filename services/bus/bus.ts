/**
 * The control-plane bus: one interface, two implementations (in-memory for the single-process
 * mode, NATS for clusters). Callers never learn which one runs; the contract suite
 * (`bus.contract.ts`) holds both to the same behaviour.
 */

export interface BusMessage {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  /** present on requests */
  reply?: string;
}

export interface Subscription extends AsyncIterable<BusMessage> {
  readonly subject: string;
  unsubscribe(): void;
}

export interface KeyValueEntry {
  key: string;
  value: Uint8Array;
  revision: number;
}

export interface KeyValueWatchEvent {
  op: 'put' | 'delete';
  key: string;
  value?: Uint8Array;
  /**
   * On a delete: the key was not deleted or expired, it vanished with the server's store (NATS
   * came back without its JetStream data). Its owner, if alive, will put it again.
   */
  lost?: true;
}

/** A key-value bucket whose entries expire ttlMs after their last put (worker registry records, leases). */
export interface KeyValueBucket {
  put(key: string, value: Uint8Array): Promise<number>;
  get(key: string): Promise<KeyValueEntry | undefined>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
  /** all current entries */
  entries(): Promise<KeyValueEntry[]>;
  /** Yields current entries first (as 'put'), then changes, incl. expiry (as 'delete'); ends when the signal aborts. */
  watch(signal?: AbortSignal): AsyncIterable<KeyValueWatchEvent>;
}

export interface Bus {
  readonly kind: 'memory' | 'nats';
  /**
   * False while the connection to the server is down (reconnecting): requests would wait for it
   * and publishes are held back. True otherwise (always, in memory).
   */
  readonly online?: boolean;
  publish(subject: string, data: Uint8Array, opts?: { headers?: Record<string, string> }): Promise<void>;
  /** NATS wildcard semantics (`*` one token, `>` the rest); `queue` = queue group (each message to one member). */
  subscribe(subject: string, opts?: { queue?: string }): Subscription;
  /** Request/reply with a timeout; rejects with BusTimeoutError / BusNoRespondersError. */
  request(
    subject: string,
    data: Uint8Array,
    opts: { timeoutMs: number; headers?: Record<string, string> },
  ): Promise<BusMessage>;
  /** Answers a request message. */
  respond(msg: BusMessage, data: Uint8Array, opts?: { headers?: Record<string, string> }): Promise<void>;
  /** A TTL bucket (JetStream KV with max_age in NATS; timers in memory). */
  keyValue(bucket: string, opts: { ttlMs: number }): Promise<KeyValueBucket>;
  /** Resolves once the server round-trips (or immediately in memory); for readiness checks. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
