import { lookup, lookupService } from 'node:dns/promises';

/** How to look names up: the system resolver (hosts file, then DNS), replaceable where a test needs a given answer. */
export interface Resolvers {
  reverse: (address: string) => Promise<string>;
  forward: (name: string) => Promise<string[]>;
}

const system: Resolvers = {
  reverse: async (address) => (await lookupService(address, 0)).hostname,
  forward: async (name) => (await lookup(name, { all: true, verbatim: true })).map((found) => found.address),
};

export interface ReverseName {
  name: string;
  /** The name resolves back to the address (forward-confirmed): only then may it allow a connection. */
  confirmed: boolean;
}

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * The address's reverse name, within 2 s, and whether it is forward-confirmed. A PTR record is written by whoever
 * owns the address, so `build.example.com` on an attacker's server proves nothing; only a name whose own addresses
 * include this one counts for a name pattern (`*.example.com`). The name is shown either way (untrusted text: only
 * a plain host name is kept).
 */
export async function reverseName(address: string, resolvers: Resolvers = system): Promise<ReverseName | undefined> {
  const within = <T>(work: Promise<T>) =>
    Promise.race([
      work.catch(() => undefined),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000).unref()),
    ]);
  const found = await within(resolvers.reverse(address));
  if (!found || !/^[a-z0-9_.-]{1,253}$/i.test(found) || found === address || !/[a-z]/i.test(found)) return undefined;
  const addresses = (await within(resolvers.forward(found))) ?? [];
  return { name: found, confirmed: addresses.some((each) => sameAddress(each, address)) };
}
