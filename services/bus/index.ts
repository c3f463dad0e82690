export type { Bus, BusMessage, KeyValueBucket, KeyValueEntry, KeyValueWatchEvent, Subscription } from './bus.js';
export { createBus } from './create-bus.js';
export { BusAuthError, BusClosedError, BusConnectError, BusError, BusNoRespondersError, BusTimeoutError } from './errors.js';
export { decodeJson, encodeJson } from './json.js';
export { MemoryBus } from './memory-bus.js';
export { NatsBus } from './nats-bus.js';
export type { NatsConnectOptions } from './nats-connect.js';
export { SealedBus, type Rejection, type RejectReason } from './sealed-bus.js';
