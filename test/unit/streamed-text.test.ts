import { describe, expect, it } from '@jest/globals';
import { StreamedText } from '#core/hosts/streamed-text.js';

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return (max: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % max;
  };
}

describe('StreamedText (output searched as it streams)', () => {
  it('finds a marker split across chunks, and answers like the joined string at every chunk', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const next = random(seed);
      const alphabet = ['a', 'b', '\0', 'mark', '\0mark\0', 'ü', 'x'.repeat(1500)];
      let whole = '';
      const text = new StreamedText();
      const marker = '\0mark\0';
      const from = next(50);
      for (let chunk = 0; chunk < 60; chunk++) {
        let piece = '';
        for (let n = next(6); n >= 0; n--) piece += alphabet[next(alphabet.length)];
        whole += piece;
        text.push(piece);
        // The same search repeated on every chunk (as a session waits for its answer) resumes where it left off.
        expect(text.indexOf(marker, from)).toBe(whole.indexOf(marker, from));
        expect(text.length).toBe(whole.length);
        const start = next(whole.length + 1);
        expect(text.slice(start)).toBe(whole.slice(start));
        expect(text.slice(start, start + 7)).toBe(whole.slice(start, start + 7));
        expect(text.endsWith('\0ma')).toBe(whole.endsWith('\0ma'));
      }
      expect(text.text()).toBe(whole);
    }
  });

  it('keeps finding a marker it found before (a search repeated after it was found)', () => {
    const text = new StreamedText('stdout\0m\0');
    expect(text.indexOf('\0m\0')).toBe(6);
    text.push('0\0stderr');
    expect(text.indexOf('\0m\0')).toBe(6);
    expect(text.indexOf('\0m-end\0', 9)).toBe(-1);
    text.push('\0m-end\0');
    expect(text.indexOf('\0m-end\0', 9)).toBe(17);
    expect(text.slice(9, 17)).toBe('0\0stderr');
  });
});
