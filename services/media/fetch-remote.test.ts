import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isApiError } from '../common/errors/index.js';
import { isNonPublicAddress } from './address-policy.js';
import { fetchRemoteImage } from './fetch-remote.js';
import { resolveMediaOptions, type MediaOptionsInput } from './options.js';
import { loadImage } from './process-image.js';
import { solidImage } from '../../test/fixtures/test-images.js';

let server: Server;
let port: number;
let png: Buffer;

beforeAll(async () => {
  png = await solidImage(40, 40, [9, 99, 199]);
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/img.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    if (url === '/redirect') return res.writeHead(302, { location: '/img.png' }).end();
    if (url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (url === '/to-localhost') return res.writeHead(302, { location: `http://localhost:${port}/img.png` }).end();
    if (url === '/big') return res.writeHead(200, { 'content-length': '100000' }).end(Buffer.alloc(100000));
    if (url === '/big-chunked') {
      res.writeHead(200);
      for (let i = 0; i < 100; i++) res.write(Buffer.alloc(1000));
      return res.end();
    }
    if (url === '/slow') return; // never answers
    if (url === '/stall') return void res.writeHead(200, { 'content-length': '1000' }).write(Buffer.alloc(10)); // body never ends
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const opts = (remote: MediaOptionsInput['remote'], more: MediaOptionsInput = {}) => resolveMediaOptions({ ...more, remote });
const at = (path: string, host = '127.0.0.1') => `http://${host}:${port}${path}`;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isApiError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'ok';
}

describe('isNonPublicAddress', () => {
  it.each([
    ['127.0.0.1', true], ['10.1.2.3', true], ['172.20.0.1', true], ['192.168.1.1', true], ['169.254.169.254', true],
    ['100.64.0.1', true], ['0.0.0.0', true], ['224.0.0.1', true], ['255.255.255.255', true],
    ['::1', true], ['::', true], ['fe80::1', true], ['fd00::1', true], ['::ffff:127.0.0.1', true], ['::ffff:7f00:1', true],
    ['::ffff:10.0.0.1', true], ['not-an-ip', true],
    ['8.8.8.8', false], ['93.184.216.34', false], ['2606:4700:4700::1111', false], ['::ffff:8.8.8.8', false],
  ])('%s → %s', (addr, expected) => expect(isNonPublicAddress(addr)).toBe(expected));
});

describe('remote image URLs', () => {
  it('are refused by default (empty allow-list)', async () => {
    expect(await code(loadImage(at('/img.png'), resolveMediaOptions()))).toMatch(/^image_url_not_allowed: Remote image URLs are disabled/);
  });

  it('load from an allow-listed IP literal', async () => {
    const img = await loadImage(at('/img.png'), opts({ allowedHosts: ['127.0.0.1'] }));
    expect([img.width, img.height, img.source.format]).toEqual([56, 56, 'png']);
  });

  it('follow redirects within the allow-list and the redirect limit', async () => {
    expect((await fetchRemoteImage(at('/redirect'), opts({ allowedHosts: ['127.0.0.1'] }))).length).toBe(png.length);
    expect(await code(fetchRemoteImage(at('/loop'), opts({ allowedHosts: ['127.0.0.1'], maxRedirects: 2 })))).toMatch(/^image_fetch_failed: .*redirected more than 2/);
  });

  it('re-check every redirect target against the allow-list', async () => {
    expect(await code(fetchRemoteImage(at('/to-localhost'), opts({ allowedHosts: ['127.0.0.1'] })))).toMatch(/^image_url_not_allowed: The host 'localhost'/);
  });

  it('refuse (SSRF) an allow-listed name that resolves to a loopback address, unless private addresses are allowed', async () => {
    expect(await code(fetchRemoteImage(at('/img.png', 'localhost'), opts({ allowedHosts: ['localhost'] })))).toMatch(/^image_url_not_allowed: .*non-public/);
    expect(await code(fetchRemoteImage(at('/img.png', 'localhost'), opts({ allowedHosts: ['localhost'], allowPrivateAddresses: true })))).toBe('ok');
  });

  it('refuse hosts off the list, credentials and other schemes', async () => {
    expect(await code(fetchRemoteImage(at('/img.png'), opts({ allowedHosts: ['images.example.com'] })))).toMatch(/^image_url_not_allowed: The host '127.0.0.1'/);
    expect(await code(fetchRemoteImage(`http://u:p@127.0.0.1:${port}/img.png`, opts({ allowedHosts: ['127.0.0.1'] })))).toMatch(/^image_url_not_allowed: .*credentials/);
    expect(await code(fetchRemoteImage('gopher://127.0.0.1/', opts({ allowedHosts: ['127.0.0.1'] })))).toMatch(/^image_url_not_allowed/);
  });

  it('time out, waiting for headers or in the middle of the body', async () => {
    const t0 = performance.now();
    expect(await code(fetchRemoteImage(at('/slow'), opts({ allowedHosts: ['127.0.0.1'], timeoutMs: 300 })))).toMatch(/^image_fetch_failed: .*within 300 ms/);
    expect(await code(fetchRemoteImage(at('/stall'), opts({ allowedHosts: ['127.0.0.1'], timeoutMs: 300 })))).toMatch(/^image_fetch_failed: .*within 300 ms/);
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('cap the body size, by Content-Length and while streaming', async () => {
    const o = opts({ allowedHosts: ['127.0.0.1'] }, { maxEncodedBytes: 5000 });
    expect(await code(fetchRemoteImage(at('/big'), o))).toMatch(/^image_too_large: .*100000 bytes/);
    expect(await code(fetchRemoteImage(at('/big-chunked'), o))).toMatch(/^image_too_large/);
  });

  it('report HTTP errors and unreachable hosts as image_fetch_failed', async () => {
    expect(await code(fetchRemoteImage(at('/missing'), opts({ allowedHosts: ['127.0.0.1'] })))).toMatch(/^image_fetch_failed: .*HTTP 404/);
    expect(await code(fetchRemoteImage('http://127.0.0.1:1/x.png', opts({ allowedHosts: ['127.0.0.1'] })))).toMatch(/^image_fetch_failed/);
  });
});
