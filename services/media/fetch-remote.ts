import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isApiError } from '../common/errors/index.js';
import { isHostAllowed, isNonPublicAddress, normalizeHost } from './address-policy.js';
import { mediaError } from './media-error.js';
import type { MediaOptions } from './options.js';

/** Raised inside the DNS hook; turned into image_url_not_allowed (the connection never opens). */
class AddressRefused extends Error {}

/**
 * A DNS lookup that refuses non-public answers. It runs inside the socket's connect, so the
 * address checked is the address connected to: no window for DNS rebinding between a check
 * and a second resolution. (Node's global fetch cannot take such a hook without the separate
 * undici package, hence node:http here.)
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = addresses.find((a) => isNonPublicAddress(a.address));
      if (!allowPrivate && bad) {
        return callback(new AddressRefused(`${hostname} resolves to the non-public address ${bad.address}`), '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** Allow-list and address rules for one hop (the first URL and every redirect target). */
function checkTarget(url: URL, o: MediaOptions, param?: string): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw mediaError('image_url_not_allowed', `Image URLs must be http(s) or data: URLs, not '${url.protocol}'.`, param);
  }
  if (url.username || url.password) throw mediaError('image_url_not_allowed', 'Image URLs must not carry credentials.', param);
  const host = normalizeHost(url.hostname);
  if (!isHostAllowed(host, o.remote.allowedHosts)) {
    throw mediaError(
      'image_url_not_allowed',
      o.remote.allowedHosts.length === 0
        ? 'Remote image URLs are disabled on this server; send the image inline as a base64 data: URL.'
        : `The host '${host}' is not on this server's image allow-list; send the image inline as a base64 data: URL.`,
      param,
    );
  }
  // An IP literal skips DNS (so the lookup guard): it passed the allow-list by being named
  // there, which is the operator explicitly allowing that address.
}

interface Hop {
  res: IncomingMessage;
}

function get(url: URL, o: MediaOptions, signal: AbortSignal): Promise<Hop> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'GET',
      signal,
      agent: false,
      lookup: guardedLookup(o.remote.allowPrivateAddresses),
      headers: { accept: 'image/png, image/jpeg, image/webp', 'user-agent': 'tandem-gateway' },
    });
    req.once('response', (res) => resolve({ res }));
    req.once('error', reject);
    req.end();
  });
}

/** Reads the body, refusing it as soon as it passes maxBytes (whatever Content-Length said). */
function readCapped(res: IncomingMessage, maxBytes: number, param?: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    res.on('data', (c: Buffer) => {
      total += c.length;
      if (total > maxBytes) {
        res.destroy();
        reject(mediaError('image_too_large', `The image at the URL is larger than the limit of ${maxBytes} bytes.`, param));
        return;
      }
      chunks.push(c);
    });
    res.once('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    res.once('error', reject);
  });
}

/**
 * Fetches an allow-listed http(s) image: each hop (redirects included, at most
 * remote.maxRedirects) is checked against the allow-list and the address rules, the whole
 * exchange is bounded by remote.timeoutMs, and the body by maxEncodedBytes.
 */
export async function fetchRemoteImage(rawUrl: string, o: MediaOptions, param?: string): Promise<Uint8Array> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw mediaError('invalid_image', 'The image URL is not a valid URL.', param);
  }
  const signal = AbortSignal.timeout(o.remote.timeoutMs);
  try {
    for (let hop = 0; ; hop++) {
      checkTarget(url, o, param);
      const { res } = await get(url, o, signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= o.remote.maxRedirects) {
          throw mediaError('image_fetch_failed', `The image URL redirected more than ${o.remote.maxRedirects} times.`, param);
        }
        url = new URL(res.headers.location, url);
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        throw mediaError('image_fetch_failed', `Fetching the image URL answered HTTP ${status}.`, param);
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > o.maxEncodedBytes) {
        res.destroy();
        throw mediaError('image_too_large', `The image at the URL is ${declared} bytes; the limit is ${o.maxEncodedBytes} bytes.`, param);
      }
      return await readCapped(res, o.maxEncodedBytes, param);
    }
  } catch (e) {
    if (e instanceof AddressRefused || (e as { cause?: unknown }).cause instanceof AddressRefused) {
      throw mediaError('image_url_not_allowed', `The image URL points to a non-public network address, which this server does not fetch from.`, param);
    }
    if (isApiError(e)) throw e;
    if (signal.aborted) {
      throw mediaError('image_fetch_failed', `The image URL did not answer within ${o.remote.timeoutMs} ms.`, param);
    }
    throw mediaError('image_fetch_failed', `The image URL could not be fetched (${(e as NodeJS.ErrnoException).code ?? 'network error'}).`, param);
  }
}
