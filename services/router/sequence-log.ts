import type { CreateSequenceInit, SequenceState, SequenceStore, TransitionPatch } from '../state/index.js';

/** Records a state change of the sequence; never blocks the request (see SequenceLog). */
export type MoveFn = (to: SequenceState, patch?: TransitionPatch) => void;

/**
 * One request's writes to the sequence store, off the request's critical path: `create` and each
 * `move` are queued in order and applied one after another in the background, each stamped with
 * the time it happened (not the time Redis got it). The first token therefore never waits on
 * Redis, and a store that is slow, restarting or empty costs the request nothing: a refused write
 * is counted (`onError`) and the request goes on. `settled()` resolves once every queued write
 * was tried — when the router needs the record (migration reads the checkpointed tokens back).
 */
export class SequenceLog {
  private chain: Promise<void> = Promise.resolve();
  constructor(
    /** null: record nothing (the replay of a sequence whose record already ended, see resume.ts). */
    private readonly store: SequenceStore | null,
    readonly id: string,
    private readonly onError: (op: string, e: Error) => void,
    /** Where the record is: `queued` for a new request, the claimed state for a resumed one. */
    private state: SequenceState = 'queued',
  ) {}

  /** The state the request is in (the store follows it, possibly a few ms behind). */
  get current(): SequenceState {
    return this.state;
  }

  create(init: Omit<CreateSequenceInit, 'id' | 'nowMs'>): void {
    const nowMs = Date.now();
    this.enqueue('create', (store) => store.create({ ...init, id: this.id, nowMs }));
  }

  readonly move: MoveFn = (to, patch) => {
    const from = this.state;
    this.state = to;
    const nowMs = Date.now();
    this.enqueue(`${from}→${to}`, (store) => store.transition(this.id, from, to, { nowMs, ...patch }));
  };

  /** Checkpoints generated tokens [from, from + tokens.length) in order with the transitions. */
  checkpoint(from: number, tokens: readonly number[]): void {
    this.enqueue('checkpoint', (store) => store.checkpointTokens(this.id, from, tokens));
  }

  settled(): Promise<void> {
    return this.chain;
  }

  private enqueue(op: string, write: (store: SequenceStore) => Promise<unknown>): void {
    const store = this.store;
    if (store === null) return;
    this.chain = this.chain.then(() => write(store)).then(
      () => undefined,
      (e: Error) => this.onError(op, e),
    );
  }
}
