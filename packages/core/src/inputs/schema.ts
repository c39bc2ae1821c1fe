import { z } from 'zod';
import { InputError, UserError } from '../errors.js';
import { DURATION_HINT, parseDuration } from './duration.js';
import { parseBoolean, parseList } from './lists.js';
import { parseStatusSpec, type StatusSpec } from './status.js';

/**
 * zod schemas for action inputs. Every input arrives as a string (empty when not set);
 * each helper turns it into a typed value or an issue whose message says what would fix it.
 * `withDefault` mirrors the default written in action.yml, so a bundle run without the runner's
 * defaults behaves the same; a test keeps the two in step.
 */
type InputSchema<T> = z.ZodType<T, string>;

function parsedBy<T>(parse: (text: string) => T | undefined, problem: (text: string) => string): InputSchema<T> {
  return z.string().transform((text, ctx) => {
    const value = parse(text.trim());
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: problem(text.trim()) });
      return z.NEVER;
    }
    return value;
  });
}

export function withDefault<T>(defaultText: string, schema: InputSchema<T>) {
  return z
    .string()
    .transform((text) => (text.trim() === '' ? defaultText : text))
    .pipe(schema)
    .meta({ inputDefault: defaultText });
}

/** The default an input schema applies to an empty value, as written in action.yml. */
export function inputDefault(schema: z.ZodType): string | undefined {
  const meta = schema.meta() as { inputDefault?: string } | undefined;
  return meta?.inputDefault;
}

export const required = (): InputSchema<string> => z.string().trim().min(1, { message: 'is required but was empty' });

export const optional = (): InputSchema<string | undefined> =>
  z.string().transform((text) => (text.trim() === '' ? undefined : text.trim()));

export const duration = (): InputSchema<number> =>
  parsedBy(parseDuration, (text) => `"${text}" is not a duration; ${DURATION_HINT}`);

export const optionalDuration = (): InputSchema<number | undefined> =>
  z.string().pipe(z.union([z.literal('').transform(() => undefined), duration()]));

export const integer = ({ min, max }: { min?: number; max?: number } = {}): InputSchema<number> =>
  parsedBy(
    (text) => {
      if (!/^-?\d+$/.test(text)) return undefined;
      const value = Number(text);
      if (min !== undefined && value < min) return undefined;
      if (max !== undefined && value > max) return undefined;
      return value;
    },
    (text) =>
      `"${text}" is not ${
        min !== undefined && max !== undefined
          ? `a whole number from ${min} to ${max}`
          : min !== undefined
            ? `a whole number of at least ${min}`
            : 'a whole number'
      }`,
  );

/** `owner/name` (e.g. `octo-org/app`) as its two parts; undefined when it is not that. */
export function parseRepository(text: string): { owner: string; repo: string } | undefined {
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(text.trim());
  return match ? { owner: match[1]!, repo: match[2]! } : undefined;
}

/** An optional `owner/name` input: empty is undefined (the caller's default, e.g. GITHUB_REPOSITORY). */
export const optionalRepository = (): InputSchema<{ owner: string; repo: string } | undefined> =>
  z
    .string()
    .pipe(
      z.union([
        z.literal('').transform(() => undefined),
        parsedBy(parseRepository, (text) => `"${text}" is not owner/name, e.g. octo-org/app`),
      ]),
    );

export const boolean = (): InputSchema<boolean> =>
  parsedBy(parseBoolean, (text) => `"${text}" is not a boolean; use true or false`);

export const oneOf = <const T extends readonly [string, ...string[]]>(choices: T): InputSchema<T[number]> =>
  parsedBy(
    // Any case is accepted (`p0`, `Audit`); the value is the choice as declared.
    (text) => choices.find((choice) => choice.toLowerCase() === text.trim().toLowerCase()),
    (text) => `"${text}" is not one of ${choices.join(', ')}`,
  );

export const statusSpec = (): InputSchema<StatusSpec> =>
  parsedBy(
    parseStatusSpec,
    (text) => `"${text}" is not a status list; use codes, classes or ranges such as 200,204 or 2xx or 200-299`,
  );

/** A rate written as a fraction (`0.05`) or a percentage (`5%`), from 0 to 1. */
export const rate = (): InputSchema<number> =>
  parsedBy(
    (text) => {
      const match = /^(\d+(?:\.\d+)?)\s*(%?)$/.exec(text);
      if (!match) return undefined;
      const value = match[2] ? Number(match[1]) / 100 : Number(match[1]);
      return value <= 1 ? value : undefined;
    },
    (text) => `"${text}" is not a rate; use a fraction from 0 to 1 (0.05) or a percentage (5%)`,
  );

export const optionalRate = (): InputSchema<number | undefined> =>
  z.string().pipe(z.union([z.literal('').transform(() => undefined), rate()]));

export type LineResult<T> = { value: T } | { problem: string };

/** One item per line; each item is checked by `item`, whose problem should name the line. */
export function lines<T>(item: (line: string) => LineResult<T>, { min = 0 }: { min?: number } = {}): InputSchema<T[]> {
  return z.string().transform((text, ctx) => {
    const items = parseList(text);
    if (items.length < min) {
      ctx.addIssue({ code: 'custom', message: min === 1 ? 'needs at least one line' : `needs at least ${min} lines` });
      return z.NEVER;
    }
    const values: T[] = [];
    items.forEach((line) => {
      const result = item(line);
      if ('problem' in result) ctx.addIssue({ code: 'custom', message: result.problem });
      else values.push(result.value);
    });
    return values;
  });
}

/** Parses raw inputs (name → text) against a shape; every bad input is reported at once, and nothing runs. */
export function parseInputs<S extends Record<string, z.ZodType<unknown, string>>>(
  shape: S,
  read: (name: string) => string,
): { [K in keyof S]: z.output<S[K]> } {
  const raw = Object.fromEntries(Object.keys(shape).map((name) => [name, read(name)]));
  const result = z.object(shape).safeParse(raw);
  if (result.success) return result.data as { [K in keyof S]: z.output<S[K]> };
  const problems = result.error.issues.map((issue) => new InputError(String(issue.path[0]), issue.message).message);
  throw new UserError(problems.length === 1 ? problems[0]! : `Invalid inputs:\n- ${problems.join('\n- ')}`);
}
