/** k6 provides `console` in its runtime; @types/k6 leaves it to lib.dom, which a k6 script must not pull in. */
declare const console: {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
};
