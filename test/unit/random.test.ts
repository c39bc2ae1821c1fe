import { randomUUID } from 'node:crypto';
import { randomHex, randomUuid } from '#core/random.js';

// The heredoc delimiter of every output and the egress sentinel's marker and stop secret come from here: they must be
// as unpredictable as node:crypto's, in the same shapes.
describe('random values without node:crypto', () => {
  const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('a UUID has the shape and version bits of crypto.randomUUID()', () => {
    expect(randomUUID()).toMatch(v4);
    for (let i = 0; i < 200; i++) expect(randomUuid()).toMatch(v4);
  });

  it('never repeats, and its random bits take both values in every position', () => {
    const values = Array.from({ length: 2000 }, () => randomUuid());
    expect(new Set(values).size).toBe(values.length);
    const hex = values.map((value) => value.replace(/-/g, ''));
    // Each of the 32 hex digits varies (fixed bits aside: the version digit, and the variant digit's top bits).
    for (let position = 0; position < 32; position++) {
      const seen = new Set(hex.map((value) => value[position]));
      expect(seen.size).toBeGreaterThan(position === 12 ? 0 : position === 16 ? 3 : 15);
    }
  });

  it('hex of the length asked for', () => {
    expect(randomHex(32)).toMatch(/^[0-9a-f]{64}$/);
    expect(randomHex(8)).not.toBe(randomHex(8));
  });
});
