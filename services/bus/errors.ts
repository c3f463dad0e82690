/** Base class of every error the bus raises on purpose; `instanceof BusError` catches them all. */
export class BusError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusError';
  }
}

/** A request got no reply within its timeout. */
export class BusTimeoutError extends BusError {
  readonly subject: string;
  readonly timeoutMs: number;
  constructor(subject: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(`bus request to '${subject}' timed out after ${timeoutMs} ms`, options);
    this.name = 'BusTimeoutError';
    this.subject = subject;
    this.timeoutMs = timeoutMs;
  }
}

/** A request was published while nobody subscribed to its subject. */
export class BusNoRespondersError extends BusError {
  readonly subject: string;
  constructor(subject: string, options?: { cause?: unknown }) {
    super(`no responders for bus request to '${subject}'`, options);
    this.name = 'BusNoRespondersError';
    this.subject = subject;
  }
}

/** The bus was closed; nothing more can be sent or received through it. */
export class BusClosedError extends BusError {
  constructor(message = 'the bus is closed', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusClosedError';
  }
}

/** The first connection to the server could not be made (names the URL, never its credentials). */
export class BusConnectError extends BusError {
  readonly url: string;
  constructor(url: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusConnectError';
    this.url = url;
  }
}

/** A sealed bus got a reply it could not open: forged, replayed, or from a peer without the cluster secret. */
export class BusAuthError extends BusError {
  readonly subject: string;
  constructor(subject: string, reason: string) {
    super(`the reply to '${subject}' is not sealed with this cluster's key (${reason})`);
    this.name = 'BusAuthError';
    this.subject = subject;
  }
}
