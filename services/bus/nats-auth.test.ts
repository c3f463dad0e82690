import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { componentOfProcess, natsAuthFromEnv, NatsConfigError } from './nats-auth.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-nats-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
};

describe('componentOfProcess', () => {
  it('is the role of `tandem router` / `tandem worker --role R`, and nothing for other commands', () => {
    expect(componentOfProcess(['node', 'tandem.js', 'router', '--port', '1'])).toBe('router');
    expect(componentOfProcess(['node', 'tandem.js', 'worker', '--model', 'm', '--role', 'decode-text'])).toBe('decode-text');
    expect(componentOfProcess(['node', 'tandem.js', 'worker', '--role=prefill-text'])).toBe('prefill-text');
    expect(componentOfProcess(['node', 'tandem.js', 'gateway'])).toBeUndefined();
    expect(componentOfProcess(['node', 'vitest'])).toBeUndefined();
  });
});

describe('natsAuthFromEnv', () => {
  it('no variables: no credentials, no TLS unless the URL asks', () => {
    expect(natsAuthFromEnv({}, undefined, false, false)).toEqual({ options: {} });
    expect(natsAuthFromEnv({}, undefined, false, true).options.tls).toEqual({});
    expect(natsAuthFromEnv({}, undefined, true, false).source).toBe('the NATS URL');
  });

  it('user + password file, with {component} standing for the process', () => {
    file('decode-text.password', ' s3cret \n');
    const auth = natsAuthFromEnv({ TANDEM_NATS_USER: '{component}', TANDEM_NATS_PASSWORD_FILE: join(dir, '{component}.password') }, 'decode-text', false, false);
    expect(auth.options).toMatchObject({ user: 'decode-text', pass: 's3cret' });
    expect(auth.source).toBe(`user 'decode-text' with the password in ${join(dir, 'decode-text.password')} (TANDEM_NATS_PASSWORD_FILE)`);
    expect(() => natsAuthFromEnv({ TANDEM_NATS_USER: '{component}', TANDEM_NATS_PASSWORD_FILE: 'x' }, undefined, false, false)).toThrow(/names \{component\}, but this process is no router or worker/);
    expect(() => natsAuthFromEnv({ TANDEM_NATS_USER: 'router' }, undefined, false, false)).toThrow('TANDEM_NATS_USER and TANDEM_NATS_PASSWORD_FILE go together; only TANDEM_NATS_USER is set');
    expect(() => natsAuthFromEnv({ TANDEM_NATS_USER: 'router', TANDEM_NATS_PASSWORD_FILE: file('empty', '\n') }, undefined, false, false)).toThrow(/is empty/);
  });

  it('tokens, nkey seeds and creds files; one credential at most', () => {
    expect(natsAuthFromEnv({ TANDEM_NATS_TOKEN: 'tok' }, undefined, false, false).options.token).toBe('tok');
    expect(natsAuthFromEnv({ TANDEM_NATS_TOKEN_FILE: file('token', 'tok2\n') }, undefined, false, false).options.token).toBe('tok2');
    const seed = file('seed.nk', new TextDecoder().decode(nkeys.createUser().getSeed()));
    expect(natsAuthFromEnv({ TANDEM_NATS_NKEY_SEED_FILE: seed }, undefined, false, false).options.authenticator).toBeTypeOf('function');
    expect(() => natsAuthFromEnv({ TANDEM_NATS_CREDS_FILE: file('bad.creds', 'hello') }, undefined, false, false)).toThrow(/holds no user JWT/);
    expect(() => natsAuthFromEnv({ TANDEM_NATS_TOKEN: 'a', TANDEM_NATS_NKEY_SEED_FILE: seed }, undefined, false, false)).toThrow(
      'NATS credentials given more than once (TANDEM_NATS_NKEY_SEED_FILE, TANDEM_NATS_TOKEN); set one',
    );
    expect(() => natsAuthFromEnv({ TANDEM_NATS_TOKEN: 'a' }, undefined, true, false)).toThrow(/more than once \(TANDEM_NATS_TOKEN, credentials in the NATS URL\)/);
    expect(() => natsAuthFromEnv({ TANDEM_NATS_NKEY_SEED_FILE: join(dir, 'none') }, undefined, false, false)).toThrow(NatsConfigError);
  });

  it('TLS files: a CA alone turns TLS on; a certificate needs its key', () => {
    const ca = file('ca.pem', 'CA PEM');
    expect(natsAuthFromEnv({ TANDEM_NATS_TLS_CA_FILE: ca }, undefined, false, false).options.tls).toEqual({ ca: 'CA PEM' });
    const cert = file('c.pem', 'CERT');
    const key = file('k.pem', 'KEY');
    expect(natsAuthFromEnv({ TANDEM_NATS_TLS_CERT_FILE: cert, TANDEM_NATS_TLS_KEY_FILE: key }, undefined, true, true).options.tls).toEqual({ cert: 'CERT', key: 'KEY' });
    expect(() => natsAuthFromEnv({ TANDEM_NATS_TLS_KEY_FILE: key }, undefined, false, false)).toThrow('TANDEM_NATS_TLS_CERT_FILE and TANDEM_NATS_TLS_KEY_FILE go together; only TANDEM_NATS_TLS_KEY_FILE is set');
    expect(() => natsAuthFromEnv({ TANDEM_NATS_TLS_CA_FILE: join(dir, 'missing.pem') }, undefined, false, false)).toThrow(`cannot read the NATS TLS CA file ${join(dir, 'missing.pem')} (TANDEM_NATS_TLS_CA_FILE): no such file`);
  });
});
