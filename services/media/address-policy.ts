import { BlockList, isIP } from 'node:net';

/**
 * Addresses a server must not be tricked into fetching from (SSRF): loopback, private,
 * link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast, reserved and
 * documentation ranges, and their IPv6 counterparts.
 */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
  ['2001:db8::', 32], ['64:ff9b::', 96], ['100::', 64],
] as const) NON_PUBLIC.addSubnet(net, prefix, 'ipv6');

/** IPv4 written inside IPv6 (::ffff:a.b.c.d or ::ffff:7f00:1): judged as the IPv4 address. */
function embeddedIpv4(addr: string): string | undefined {
  const m = /^::ffff:(?:0:)?(.+)$/i.exec(addr);
  if (!m) return undefined;
  const rest = m[1]!;
  if (isIP(rest) === 4) return rest;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(rest);
  if (!hex) return undefined;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True for any address that is not plainly on the public internet (and for non-addresses). */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return NON_PUBLIC.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return NON_PUBLIC.check(v4, 'ipv4');
    return NON_PUBLIC.check(address, 'ipv6');
  }
  return true;
}

/** URL host → bare lower-case name or address (brackets of IPv6 literals and a trailing dot removed). */
export function normalizeHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
}

/** Whether `host` (normalized) is named by the allow-list (exact match, case-insensitive). */
export function isHostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  return allowedHosts.some((h) => normalizeHost(h) === host);
}
