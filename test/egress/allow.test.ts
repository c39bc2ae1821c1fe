import { dnsServersFrom, isAllowed, parseAllowEntry, type AllowContext, type AllowEntry } from '#core/egress/allow.js';
import { decodeAddress } from '#core/egress/procnet.js';

const entries = (...lines: string[]) =>
  lines.map((line) => {
    const result = parseAllowEntry(line);
    if ('problem' in result) throw new Error(result.problem);
    return result.value;
  });

describe('allowed-endpoints', () => {
  test('every documented form is understood', () => {
    expect(
      entries(
        'db.internal:5432',
        'api.example.com',
        '*.example.com:443',
        '203.0.113.0/24:5432',
        '203.0.113.7',
        '[2001:db8::1]:443',
        '[2001:db8::/32]',
        '2001:db8::5',
      ),
    ).toEqual<AllowEntry[]>([
      { kind: 'host', text: 'db.internal:5432', host: 'db.internal', port: 5432 },
      { kind: 'host', text: 'api.example.com', host: 'api.example.com', port: undefined },
      { kind: 'pattern', text: '*.example.com:443', pattern: '*.example.com', port: 443 },
      { kind: 'network', text: '203.0.113.0/24:5432', address: '203.0.113.0', prefix: 24, family: 4, port: 5432 },
      { kind: 'network', text: '203.0.113.7', address: '203.0.113.7', prefix: 32, family: 4, port: undefined },
      { kind: 'network', text: '[2001:db8::1]:443', address: '2001:db8::1', prefix: 128, family: 6, port: 443 },
      { kind: 'network', text: '[2001:db8::/32]', address: '2001:db8::', prefix: 32, family: 6, port: undefined },
      { kind: 'network', text: '2001:db8::5', address: '2001:db8::5', prefix: 128, family: 6, port: undefined },
    ]);
  });

  test.each([
    ['db:0', 'port'],
    ['db:70000', 'port'],
    ['203.0.113.0/33', 'network'],
    ['300.1.1.1', 'network'],
    ['a*.example.com', 'pattern'],
    ['bad host!', 'host name'],
  ])('"%s" is refused with the fix', (line, word) => {
    const result = parseAllowEntry(line);
    expect('problem' in result && result.problem).toContain(word);
    expect('problem' in result && result.problem).toContain('host:port');
  });

  test('matching: networks, ports, resolved names, patterns by name, DNS and loopback', () => {
    const context: AllowContext = {
      entries: entries('203.0.113.0/24:5432', 'db.internal:5432', '*.example.com:443', '[2001:db8::/32]'),
      resolved: new Map([['db.internal', ['198.18.1.2', 'fd00:1::2']]]),
      dnsServers: ['198.18.0.53'],
      allowLoopback: true,
    };
    expect(isAllowed(context, '203.0.113.9', 5432, 'tcp')).toBe(true);
    expect(isAllowed(context, '203.0.113.9', 5433, 'tcp')).toBe(false);
    expect(isAllowed(context, '::ffff:203.0.113.9', 5432, 'tcp')).toBe(true);
    expect(isAllowed(context, 'FD00:1::2', 5432, 'udp')).toBe(true);
    expect(isAllowed(context, '198.18.1.2', 22, 'tcp')).toBe(false);
    expect(isAllowed(context, '2001:db8:1::7', 8443, 'tcp')).toBe(true);
    expect(isAllowed(context, '198.51.100.1', 443, 'tcp', ['cdn.example.com'])).toBe(true);
    expect(isAllowed(context, '198.51.100.1', 443, 'tcp', ['example.com'])).toBe(false);
    expect(isAllowed(context, '198.18.0.53', 53, 'udp')).toBe(true);
    expect(isAllowed(context, '198.18.0.53', 54, 'udp')).toBe(false);
    expect(isAllowed(context, '127.0.0.53', 53, 'udp')).toBe(true);
    expect(isAllowed({ ...context, allowLoopback: false }, '::1', 80, 'tcp')).toBe(false);
  });

  test('an IPv4-mapped IPv6 entry (address or network) is IPv4, as destinations are', () => {
    expect(entries('[::ffff:198.18.1.2]:5432', '::ffff:c612:102', '[0:0:0:0:0:ffff:198.18.1.0/120]:80')).toEqual<
      AllowEntry[]
    >([
      { kind: 'network', text: '[::ffff:198.18.1.2]:5432', address: '198.18.1.2', prefix: 32, family: 4, port: 5432 },
      { kind: 'network', text: '::ffff:c612:102', address: '198.18.1.2', prefix: 32, family: 4, port: undefined },
      {
        kind: 'network',
        text: '[0:0:0:0:0:ffff:198.18.1.0/120]:80',
        address: '198.18.1.0',
        prefix: 24,
        family: 4,
        port: 80,
      },
    ]);
    const context: AllowContext = {
      entries: entries('[::ffff:198.18.1.2]:5432', '[::ffff:198.18.3.0/120]'),
      resolved: new Map(),
      dnsServers: [],
      allowLoopback: false,
    };
    expect(isAllowed(context, '198.18.1.2', 5432, 'tcp')).toBe(true);
    expect(isAllowed(context, '::ffff:198.18.1.2', 5432, 'tcp')).toBe(true);
    expect(isAllowed(context, '198.18.3.77', 443, 'udp')).toBe(true);
    expect(isAllowed(context, '198.18.1.2', 5433, 'tcp')).toBe(false);
  });

  test('DNS servers: resolv.conf, plus systemd-resolved upstream servers behind its stub', () => {
    expect(
      dnsServersFrom('nameserver 127.0.0.53\noptions edns0\n', 'nameserver 168.63.129.16\nnameserver fe80::1%eth0\n'),
    ).toEqual(['127.0.0.53', '168.63.129.16', 'fe80::1']);
    expect(dnsServersFrom('nameserver 10.0.0.2\n', 'nameserver 168.63.129.16\n')).toEqual(['10.0.0.2']);
  });

  test('/proc/net hex addresses, IPv4 mapped in IPv6 included', () => {
    expect(decodeAddress('0101A8C0')).toBe('192.168.1.1');
    expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1');
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
  });
});
