// Container health probe for the slim image (no curl or wget there):
//   node deploy/healthcheck.mjs http PORT PATH    -> exit 0 when GET answers 2xx
//   node deploy/healthcheck.mjs tcp PORT          -> exit 0 when the port accepts a connection
// It dials this container's own hostname, not 127.0.0.1: workers bind the host they advertise
// to the router (`--host <service name>`), so loopback would find nothing listening there.
// With TANDEM_METRICS_API_KEY_FILE (the metrics key, which the gateway's /ready needs) it sends
// that key as a bearer token.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';

const [kind, port, path = '/health'] = process.argv.slice(2);
const host = process.env.HEALTHCHECK_HOST || hostname();
const fail = (why) => {
  console.error(`unhealthy: ${why}`);
  process.exit(1);
};
setTimeout(() => fail('timed out'), 4000).unref();

if (kind === 'http') {
  const keyFile = process.env.TANDEM_METRICS_API_KEY_FILE;
  const headers = keyFile ? { authorization: `Bearer ${readFileSync(keyFile, 'utf8').trim()}` } : {};
  fetch(`http://${host}:${port}${path}`, { headers }).then(
    (r) => (r.ok ? process.exit(0) : fail(`HTTP ${r.status}`)),
    (e) => fail(e.message),
  );
} else if (kind === 'tcp') {
  const s = connect({ host, port: Number(port) }, () => {
    s.end();
    process.exit(0);
  });
  s.on('error', (e) => fail(e.message));
} else {
  fail(`usage: healthcheck.mjs http PORT PATH | tcp PORT (got ${kind})`);
}
