import dnsPacket, { type Packet } from 'dns-packet';
import { parseAllowEntry, type AllowEntry } from '#core/egress/allow.js';
import { addressesFor } from '#core/egress/dns-answer.js';
import { printableName } from '#core/egress/dns-forwarder.js';
import { entriesForName, forwarderResolvConf, upstreamServers, usesForwarder } from '#core/egress/dns-policy.js';

const entries = (lines: string[]) => lines.map((line) => (parseAllowEntry(line) as { value: AllowEntry }).value);
/** A response as it comes off the wire: encoded by one side, decoded as the forwarder decodes it. */
const wire = (answers: NonNullable<Packet['answers']>) =>
  dnsPacket.decode(dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'q' }], answers }));

describe('the DNS policy: which names are allowed, and what an answer lets through', () => {
  test('`*.suffix` matches one label or more, not the suffix itself; exact names match exactly, any case, trailing dot', () => {
    const list = entries(['*.example.com:443', 'api.other.org']);
    const allowed = (name: string) => entriesForName(list, name).map((entry) => entry.text);
    expect(allowed('a.example.com')).toEqual(['*.example.com:443']);
    expect(allowed('A.B.Example.COM.')).toEqual(['*.example.com:443']);
    expect(allowed('example.com')).toEqual([]);
    expect(allowed('badexample.com')).toEqual([]);
    expect(allowed('example.com.evil.net')).toEqual([]);
    expect(allowed('api.other.org')).toEqual(['api.other.org']);
    expect(allowed('x.api.other.org')).toEqual([]);
  });

  test('the forwarder runs in block mode with a name in the list, unless dns-policy is any', () => {
    const names = entries(['db.internal:5432']);
    expect(usesForwarder({ mode: 'block', entries: names })).toBe(true);
    expect(usesForwarder({ mode: 'block', entries: names, dnsPolicy: 'any' })).toBe(false);
    expect(usesForwarder({ mode: 'audit', entries: names })).toBe(false);
    expect(usesForwarder({ mode: 'block', entries: entries(['203.0.113.7:443']) })).toBe(false);
  });

  test('a CNAME chain is followed to its addresses with the lowest TTL; records off the chain allow nothing', () => {
    const response = wire([
      { type: 'CNAME', name: 'cdn.example.com', ttl: 300, data: 'edge.provider.net' },
      { type: 'CNAME', name: 'edge.provider.net', ttl: 60, data: 'e1.provider.net' },
      { type: 'A', name: 'e1.provider.net', ttl: 120, data: '192.0.2.7' },
      { type: 'AAAA', name: 'e1.provider.net', ttl: 90, data: '2001:db8::7' },
      { type: 'A', name: 'unrelated.evil.net', ttl: 999, data: '198.51.100.66' },
      { type: 'A', name: 'cdn.example.com.evil.net', ttl: 999, data: '198.51.100.67' },
    ]);
    expect(addressesFor(response, 'CDN.example.com.')).toEqual({
      addresses: ['192.0.2.7', '2001:db8::7'],
      ttl: 60,
      chain: ['edge.provider.net', 'e1.provider.net'],
    });
  });

  test('a CNAME loop ends; an answer without addresses allows nothing', () => {
    const loop = wire([
      { type: 'CNAME', name: 'a.example.com', ttl: 5, data: 'b.example.com' },
      { type: 'CNAME', name: 'b.example.com', ttl: 5, data: 'a.example.com' },
    ]);
    expect(addressesFor(loop, 'a.example.com').addresses).toEqual([]);
    expect(addressesFor(wire([]), 'a.example.com')).toEqual({ addresses: [], ttl: 0, chain: [] });
  });

  test('upstream: resolv.conf servers, or systemd-resolved upstream behind its stub; resolv.conf for the forwarder keeps search and options', () => {
    expect(upstreamServers('nameserver 10.0.0.2\nnameserver fe80::1%eth0\n', '')).toEqual(['10.0.0.2', 'fe80::1']);
    expect(upstreamServers('nameserver 127.0.0.53\noptions edns0\n', 'nameserver 168.63.129.16\n')).toEqual([
      '168.63.129.16',
    ]);
    expect(upstreamServers('# nameserver 10.9.9.9\n', '')).toEqual([]);
    const conf = forwarderResolvConf(
      'nameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n',
      '127.0.0.153',
    );
    expect(conf.split('\n').filter((line) => !line.startsWith('#'))).toEqual([
      'nameserver 127.0.0.153',
      'search corp.example',
      'options edns0 trust-ad',
      '',
    ]);
  });

  test('a refused name is shown printable and bounded, whatever bytes a tunnel put in it', () => {
    expect(printableName('ok.example.com')).toBe('ok.example.com');
    expect(printableName('a b\n\u0000.evil.net')).toBe('a\\32b\\10\\0.evil.net');
    expect(printableName('x'.repeat(400))).toHaveLength(301);
  });
});
