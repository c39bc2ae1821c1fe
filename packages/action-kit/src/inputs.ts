import { z } from 'zod';
import { UserError } from '#core/errors.js';
import { DURATION_HINT, formatDuration, MAX_WAIT_MS, parseDuration } from '#core/units/duration.js';
import { parseBoolean, parseList, type LineResult } from '#core/units/lists.js';
import { parseRate, rateProblem } from '#core/units/rate.js';
import { parseSize, SIZE_HINT } from '#core/units/size.js';
import { parseStatusSpec, type StatusSpec } from '#core/units/status.js';
import { parseRepository, repositoryProblem } from '#core/github/parse.js';

/**
 * zod schemas for action inputs. Every input arrives as a string (empty when not set); each helper turns it into a
 * typed value or an issue whose message quotes the value, says what is wrong with it and gives an example, so that
 * the envelope's `Input "<name>": …` is a whole sentence — never zod's bare "Invalid input". `withDefault` mirrors
 * the default written in action.yml, so a bundle run without the runner's defaults behaves the same; a test keeps
 * the two in step.
 */
export type InputSchema<T> = z.ZodType<T, string>;

/** A user error about one named action input. */
export class InputError extends UserError {
  override name = 'InputError';
  constructor(
    readonly input: string,
    problem: string,
  ) {
    super(`Input "${input}": ${problem}`);
  }
}

/** An input read by a parser that returns the value or undefined, with the problem told by `problem(text)`. */
export function parsedBy<T>(parse: (text: string) => T | undefined, problem: (text: string) => string): InputSchema<T> {
  return checkedBy<T>((text) => {
    const value = parse(text);
    return value === undefined ? { problem: problem(text) } : { value };
  });
}

/** Where a step tells a problem with an input's text: zod's context of a transform. */
type IssueSink = { addIssue(issue: { code: 'custom'; message: string }): void };

/**
 * The one schema every input helper is: a single zod transform of the input's text. Each schema built costs a
 * step's start (zod builds and first compiles it before the first line is logged), and a `z.string().transform()`
 * is three schemas, a `.pipe()` and a `.meta()` two more; the text needs no string check (the envelope reads every
 * input as a string). Problems are custom issues with the message that says why, as before.
 */
function readInput<T>(read: (text: string, ctx: IssueSink) => T): InputSchema<T> {
  return z.transform(read) as unknown as InputSchema<T>;
}

/** Reads `text` with `schema`, its problems told in the enclosing input's context with their own messages. */
function readWith<T>(schema: InputSchema<T>, text: string, ctx: IssueSink): T {
  const result = schema.safeParse(text);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
  return z.NEVER;
}

/** An input read by a parser that returns `{ value }` or `{ problem }` (core's line parsers). */
export function checkedBy<T>(check: (text: string) => LineResult<T>): InputSchema<T> {
  return readInput((text, ctx) => {
    const result = check(text.trim());
    if ('value' in result) return result.value;
    ctx.addIssue({ code: 'custom', message: result.problem });
    return z.NEVER;
  });
}

/** Each withDefault schema's default, for inputDefault (kept beside the schema rather than in zod's registry). */
const defaults = new WeakMap<z.ZodType, string>();

export function withDefault<T>(defaultText: string, schema: InputSchema<T>): InputSchema<T> {
  const withIt = readInput((text, ctx) => readWith(schema, text.trim() === '' ? defaultText : text, ctx));
  defaults.set(withIt, defaultText);
  return withIt;
}

/** The default an input schema applies to an empty value, as written in action.yml. */
export function inputDefault(schema: z.ZodType): string | undefined {
  return defaults.get(schema);
}

/**
 * An input that may be empty (undefined then); a value is read by `schema` with its own messages. (A zod union of
 * `''` and the schema would report a bad value as a bare "Invalid input", losing the message that says why.)
 */
export function optionalOf<T>(schema: InputSchema<T>): InputSchema<T | undefined> {
  return readInput((text, ctx) => (text.trim() === '' ? undefined : readWith(schema, text, ctx)));
}

/**
 * An input that must be given, on one line (a path, a name: a line break in one is a mistake, which a URL parser or
 * a shell would silently change); `example` is what the error shows a valid value as.
 */
export const required = (example: string): InputSchema<string> =>
  readInput((text, ctx) => {
    const value = text.trim();
    if (value !== '' && !/\p{Cc}/u.test(value)) return value;
    const problem = value === '' ? 'is required but was empty' : 'has a line break or control character in it';
    ctx.addIssue({ code: 'custom', message: `${problem}; e.g. ${example}` });
    return z.NEVER;
  });

/** An optional input on one line (a name, a branch), as `required` checks it when given. */
export const optionalLine = (example: string): InputSchema<string | undefined> => optionalOf(required(example));

export const optional = (): InputSchema<string | undefined> =>
  readInput((text) => (text.trim() === '' ? undefined : text.trim()));

/**
 * A token or other credential sent in a header: one word (a line break or blank in it would fail only when the
 * request is sent, with the header's value in the error). Never quoted in the problem: it is a secret.
 */
export const credential = (example: string): InputSchema<string | undefined> =>
  optionalOf(
    checkedBy((text) =>
      /[\s\p{Cc}]/u.test(text)
        ? {
            problem: `has a blank or line break in it (not shown: it is a secret); pass the token alone, e.g. ${example}`,
          }
        : { value: text },
    ),
  );

/**
 * A duration from `min` (0) up to `max` (MAX_WAIT_MS, 24h, unless the input is an age rather than a wait or a
 * timeout), both included.
 */
export const duration = ({ min = 0, max = MAX_WAIT_MS }: { min?: number; max?: number } = {}): InputSchema<number> =>
  parsedBy(
    (text) => {
      const ms = parseDuration(text);
      return ms !== undefined && ms >= min && ms <= max ? ms : undefined;
    },
    (text) => {
      const ms = parseDuration(text);
      if (ms === undefined) return `"${text}" is not a duration; ${DURATION_HINT}`;
      if (ms > max) return `"${text}" is longer than ${formatDuration(max)}, the most it may be; e.g. 10m`;
      if (min === 1) return `"${text}" must be longer than 0; ${DURATION_HINT}`;
      return `"${text}" is shorter than ${formatDuration(min)}, the least it may be; e.g. ${formatDuration(Math.max(min, 30_000))}`;
    },
  );

/** A duration longer than zero (a timeout, an interval to wait between polls). */
export const positiveDuration = (): InputSchema<number> => duration({ min: 1 });

export const optionalDuration = (options: { max?: number } = {}): InputSchema<number | undefined> =>
  optionalOf(duration(options));

export const integer = ({ min, max }: { min?: number; max?: number } = {}): InputSchema<number> =>
  parsedBy(
    (text) => {
      if (!/^-?\d+$/.test(text)) return undefined;
      const value = Number(text);
      if (min !== undefined && value < min) return undefined;
      if (max !== undefined && value > max) return undefined;
      return value;
    },
    (text) => `"${text}" is not ${integerRange(min, max)}`,
  );

function integerRange(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `a whole number from ${min} to ${max}, e.g. ${min}`;
  if (min !== undefined) return `a whole number of at least ${min}, e.g. ${min}`;
  return 'a whole number, e.g. 3';
}

/** An optional `owner/name` input: empty is undefined (the caller's default: the workflow's repository). */
export const optionalRepository = (): InputSchema<{ owner: string; repo: string } | undefined> =>
  optionalOf(parsedBy(parseRepository, repositoryProblem));

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
export const rate = (): InputSchema<number> => parsedBy(parseRate, rateProblem);

export const optionalRate = (): InputSchema<number | undefined> => optionalOf(rate());

/** A size such as `2GiB`, `500MiB` or bytes. */
export const size = (): InputSchema<number> => parsedBy(parseSize, (text) => `"${text}" is not a size; ${SIZE_HINT}`);

/** One item per line (blank and `#` lines dropped), each taken as it is. */
export const list = (): InputSchema<string[]> => readInput((text) => parseList(text));

/** One item per line; each item is checked by `item`, whose problem should name the line. */
export function lines<T>(item: (line: string) => LineResult<T>, { min = 0 }: { min?: number } = {}): InputSchema<T[]> {
  return readInput((text, ctx) => {
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

/**
 * Parses raw inputs (name → text) against a shape; every bad input is reported at once, and nothing runs. Async, so
 * an input's parser may load what it needs on first use (release-services' YAML parser, only for a non-empty input).
 */
export async function parseInputs<S extends Record<string, z.ZodType<unknown, string>>>(
  shape: S,
  read: (name: string) => string,
): Promise<{ [K in keyof S]: z.output<S[K]> }> {
  const raw = Object.fromEntries(Object.keys(shape).map((name) => [name, read(name)]));
  const result = await z.object(shape).safeParseAsync(raw);
  if (result.success) return result.data as { [K in keyof S]: z.output<S[K]> };
  const problems = result.error.issues.map((issue) => new InputError(String(issue.path[0]), issue.message).message);
  throw new UserError(problems.length === 1 ? problems[0]! : `Invalid inputs:\n- ${problems.join('\n- ')}`);
}
