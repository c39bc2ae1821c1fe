import { describe, expect, it } from '@jest/globals';
import { reverseName, type Resolvers } from '#core/egress/reverse-name.js';

/** Answers as a DNS server would that holds these PTR and A/AAAA records (an owner publishes any PTR it likes). */
function dns(ptr: Record<string, string>, forward: Record<string, string[]>): Resolvers {
  return {
    reverse: async (address) => ptr[address] ?? Promise.reject(new Error('ENOTFOUND')),
    forward: async (name) => forward[name] ?? Promise.reject(new Error('ENOTFOUND')),
  };
}

describe('reverse names of destinations (audit mode name patterns)', () => {
  it('counts a reverse name only when it resolves back to the address', async () => {
    const records = dns(
      { '198.18.2.2': 'build.example.com', '198.18.1.2': 'db.example.com', '2001:db8::7': 'v6.example.com' },
      { 'db.example.com': ['198.18.1.2'], 'build.example.com': ['203.0.113.9'], 'v6.example.com': ['2001:DB8::7'] },
    );
    // The attacker's address claims a name of the allowed domain; that name's own address is elsewhere.
    expect(await reverseName('198.18.2.2', records)).toEqual({ name: 'build.example.com', confirmed: false });
    expect(await reverseName('198.18.1.2', records)).toEqual({ name: 'db.example.com', confirmed: true });
    expect(await reverseName('2001:db8::7', records)).toEqual({ name: 'v6.example.com', confirmed: true });
  });

  it('keeps no name that is not a plain host name, and none where there is no PTR', async () => {
    const records = dns({ '198.18.2.3': '<img src=x>.example.com', '198.18.2.4': '198.18.2.4' }, {});
    expect(await reverseName('198.18.2.3', records)).toBeUndefined();
    expect(await reverseName('198.18.2.4', records)).toBeUndefined();
    expect(await reverseName('198.18.2.5', records)).toBeUndefined();
  });

  it('a name whose forward lookup fails is shown, unconfirmed', async () => {
    const records = dns({ '198.18.2.6': 'gone.example.com' }, {});
    expect(await reverseName('198.18.2.6', records)).toEqual({ name: 'gone.example.com', confirmed: false });
  });
});
