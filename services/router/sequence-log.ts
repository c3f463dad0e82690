import { SequenceNotFoundError, type CreateSequenceInit, type SequenceState, type SequenceStore, type TransitionPatch } from '../state/index.js';

/** Records a state change of the sequence; never blocks the request (see SequenceLog). */
export type MoveFn = (to: SequenceState, patch?: TransitionPatch) => void;

type Write = (store: SequenceStore) => Promise<unknown>;

/** How many times one request's record is written again after the store lost it. */
const MAX_REBUILDS = 3;

/**
 * One request's writes to the sequence store, off the request's critical path: `create` and each
 * `move` are queued in order and applied one after another in the background, each stamped with
 * the time it happened (not the time Redis got it). The first token therefore never waits on
 * Redis, and a store that is slow, restarting or empty costs the request nothing: a refused write
 * is counted (`onError`) and the request goes on. `settled()` resolves once every queued write
 * was tried — when the router needs the record (migration reads the checkpointed tokens back).
 *
 * A record the store lost (Redis restarted without its data) is written again: the log keeps what
 * it wrote — the create, every move with its time, the checkpointed tokens — and replays them when
 * a write finds no record, so an in-flight request is resumable again from the new store.
 */
export class SequenceLog {
  private chain: Promise<void> = Promise.resolve();
  private init: CreateSequenceInit | undefined;
  /** Every write after the create, in order (what a rebuild replays). */
  private readonly history: Write[] = [];
  private rebuilds = 0;

  constructor(
    /** null: record nothing (the replay of a sequence whose record already ended, see resume.ts). */
    private readonly store: SequenceStore | null,
    readonly id: string,
    private readonly onError: (op: string, e: Error) => void,
    /** Where the record is: `queued` for a new request, the claimed state for a resumed one. */
    private state: SequenceState = 'queued',
    /** A record rebuilt after the store lost it (for metrics). */
    private readonly onRebuilt?: () => void,
  ) {}

  /** The state the request is in (the store follows it, possibly a few ms behind). */
  get current(): SequenceState {
    return this.state;
  }

  create(init: Omit<CreateSequenceInit, 'id' | 'nowMs'>): void {
    const full: CreateSequenceInit = { ...init, id: this.id, nowMs: Date.now() };
    this.init = full;
    this.enqueue('create', (store) => store.create(full), false);
  }

  readonly move: MoveFn = (to, patch) => {
    const from = this.state;
    this.state = to;
    const stamped = { nowMs: Date.now(), ...patch };
    this.enqueue(`${from}→${to}`, (store) => store.transition(this.id, from, to, stamped));
  };

  /** Checkpoints generated tokens [from, from + tokens.length) in order with the transitions. */
  checkpoint(from: number, tokens: readonly number[]): void {
    const ids = [...tokens];
    this.enqueue('checkpoint', (store) => store.checkpointTokens(this.id, from, ids));
  }

  settled(): Promise<void> {
    return this.chain;
  }

  private enqueue(op: string, write: Write, replayable = true): void {
    const store = this.store;
    if (store === null) return;
    if (replayable) this.history.push(write);
    // Where the record stands once this write is applied: what a rebuild writes again.
    const upTo = this.history.length;
    this.chain = this.chain
      .then(() => write(store))
      .catch((e: Error) => (e instanceof SequenceNotFoundError && this.init && this.rebuilds < MAX_REBUILDS ? this.rebuild(store, upTo) : Promise.reject(e)))
      .then(
        () => undefined,
        (e: Error) => this.onError(op, e),
      );
  }

  /** Writes the lost record again, as it stood after the write that found it missing. */
  private async rebuild(store: SequenceStore, upTo: number): Promise<void> {
    this.rebuilds++;
    await store.create(this.init!);
    for (const write of this.history.slice(0, upTo)) await write(store);
    this.onRebuilt?.();
  }
}
