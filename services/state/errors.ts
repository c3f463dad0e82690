import type { SequenceState } from './transitions.js';

/** Base class of every error the sequence store throws on purpose. */
export class SequenceStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A transition was refused: the sequence is not in `from` (someone else moved it first,
 * `reason: 'state-mismatch'`), `from → to` is not in the transition table (`'illegal-move'`), or
 * the patch's expectedAttempt is not the current attempt (`'stale-attempt'`).
 */
export class IllegalTransitionError extends SequenceStoreError {
  readonly id: string;
  readonly actual: SequenceState;
  readonly from: SequenceState;
  readonly to: SequenceState;
  readonly reason: 'state-mismatch' | 'illegal-move' | 'stale-attempt';
  /** Set when reason is 'stale-attempt'. */
  readonly attempt?: { actual: number; expected: number };

  constructor(
    id: string,
    actual: SequenceState,
    from: SequenceState,
    to: SequenceState,
    attempt?: { actual: number; expected: number },
  ) {
    const reason = actual !== from ? 'state-mismatch' : attempt !== undefined ? 'stale-attempt' : 'illegal-move';
    super(
      reason === 'state-mismatch'
        ? `sequence ${id}: cannot move ${from} → ${to}: its current state is ${actual}`
        : reason === 'stale-attempt'
          ? `sequence ${id}: cannot move ${from} → ${to}: it is at attempt ${attempt!.actual}, not ${attempt!.expected} (current state ${actual})`
          : `sequence ${id}: cannot move ${from} → ${to}: not a legal transition (current state ${actual})`,
    );
    if (attempt !== undefined) this.attempt = attempt;
    this.id = id;
    this.actual = actual;
    this.from = from;
    this.to = to;
    this.reason = reason;
  }
}

export class DuplicateSequenceError extends SequenceStoreError {
  readonly id: string;
  constructor(id: string) {
    super(`sequence ${id} already exists`);
    this.id = id;
  }
}

export class SequenceNotFoundError extends SequenceStoreError {
  readonly id: string;
  constructor(id: string) {
    super(`sequence ${id} does not exist (never created, or expired after finishing)`);
    this.id = id;
  }
}

/** An operation that only makes sense on a live sequence hit a terminal one. */
export class SequenceNotActiveError extends SequenceStoreError {
  readonly id: string;
  readonly state: SequenceState;
  constructor(id: string, state: SequenceState, operation: string) {
    super(`sequence ${id}: cannot ${operation}: it is ${state}`);
    this.id = id;
    this.state = state;
  }
}

export class TokenCheckpointError extends SequenceStoreError {
  readonly id: string;
  readonly reason: 'gap' | 'conflict';
  constructor(id: string, reason: 'gap' | 'conflict', detail: string) {
    super(`sequence ${id}: token checkpoint refused (${reason}): ${detail}`);
    this.id = id;
    this.reason = reason;
  }
}

/**
 * The record's fields were changed in Redis by someone without the cluster's key (its tag does
 * not check out, or is missing): nothing in it can be trusted, so it is neither read nor written.
 */
export class SequenceTamperedError extends SequenceStoreError {
  readonly id: string;
  constructor(id: string) {
    super(`sequence ${id}: its record in the store was changed by someone without the cluster secret (the record tag does not check out); it is treated as lost`);
    this.id = id;
  }
}

/** The Redis backend could not be reached in time when the store was opened. */
export class StoreConnectionError extends SequenceStoreError {
  readonly url: string;
  constructor(url: string, detail: string, options?: { cause?: unknown }) {
    super(`sequence store: cannot connect to ${url}: ${detail}`, options);
    this.url = url;
  }
}
