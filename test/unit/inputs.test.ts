import { describe, expect, it } from '@jest/globals';
import { formatDuration, parseDuration } from '#core/units/duration.js';
import { parseBoolean, parseList } from '#core/units/lists.js';
import { parseStatusSpec } from '#core/units/status.js';
import { duration, integer, oneOf, parseInputs, withDefault, lines } from '#action-kit/inputs.js';
import { UserError } from '#core/errors.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [' 15s ', 15_000],
    ['0', 0], // `lock-timeout: 0` (try once), as documented; any other number needs its unit
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['abc', '5', '5 sec', '-1s', '', 's'])('rejects %p', (text) => expect(parseDuration(text)).toBeUndefined());

  it('formats milliseconds for people', () => {
    expect([850, 5_000, 1_500, 120_000, 5_400_000].map(formatDuration)).toEqual(['850ms', '5s', '1.5s', '2m', '1h30m']);
  });
});

describe('lists and booleans', () => {
  it('splits lines, drops blanks and comments, optionally commas', () => {
    expect(parseList('a\n\n # note\n b \r\nc')).toEqual(['a', 'b', 'c']);
    expect(parseList('200, 204\n2xx', { commas: true })).toEqual(['200', '204', '2xx']);
  });
  it('reads the YAML boolean spellings', () => {
    expect(['true', 'Yes', 'on', '1', 'false', 'NO', 'off', '0', 'maybe'].map(parseBoolean)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      undefined,
    ]);
  });
});

describe('status specs', () => {
  it('accepts codes, classes and ranges', () => {
    const spec = parseStatusSpec('200,204 3xx 400-401')!;
    expect([200, 204, 201, 302, 400, 401, 402, 500].map(spec.matches)).toEqual([
      true,
      true,
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
  });
  it.each(['abc', '20', '299-200', '6xx', '', '200;204'])('rejects %p', (text) =>
    expect(parseStatusSpec(text)).toBeUndefined(),
  );
});

describe('choices', () => {
  it('accepts a choice in any case and gives it back as declared (fail-on: p0 → P0)', async () => {
    const shape = { 'fail-on': withDefault('P0', oneOf(['P0', 'P1', 'P2', 'never'] as const)) };
    expect(await parseInputs(shape, () => 'p1')).toEqual({ 'fail-on': 'P1' });
    expect(await parseInputs(shape, () => ' Never ')).toEqual({ 'fail-on': 'never' });
    await expect(parseInputs(shape, () => 'P3')).rejects.toThrow('"P3" is not one of P0, P1, P2, never');
  });
});

describe('parseInputs', () => {
  const shape = {
    attempts: withDefault('6', integer({ min: 1 })),
    interval: withDefault('5s', duration()),
    urls: lines((line) => (line.startsWith('http') ? { value: line } : { problem: `"${line}" is not a URL` }), {
      min: 1,
    }),
  };

  it('applies the action.yml defaults to empty inputs', async () => {
    expect(await parseInputs(shape, (name) => (name === 'urls' ? 'http://a' : ''))).toEqual({
      attempts: 6,
      interval: 5_000,
      urls: ['http://a'],
    });
  });

  it('names every bad input and says what would fix it', async () => {
    const raw: Record<string, string> = { attempts: '0', interval: 'abc', urls: 'ftp' };
    const error = await parseInputs(shape, (name) => raw[name]!).catch((rejected: unknown) => rejected);
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message).toContain('Input "attempts": "0" is not a whole number of at least 1');
    expect(message).toContain('Input "interval": "abc" is not a duration; use a number with a unit');
    expect(message).toContain('Input "urls": "ftp" is not a URL');
  });
});
