import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { DURATION_HINT, MAX_WAIT_MS, parseDuration } from '../units/duration.js';
import { tabIndentProblem } from '../yaml-indent.js';
import { parseBoolean, parseList } from '../units/lists.js';
import { didYouMean } from '../units/suggest.js';
import { parseJsonAssertion, type JsonAssertion } from '../http/expectations.js';
import { DEFAULT_GATE_BACKUPS_ROOT } from '../backup/fresh.js';
import { GATE_KINDS, gate, releasePath, type Gate, type GateKind } from './model.js';

export interface ParseGatesOptions {
  /** Names the text in errors: `Input "gates"` or `gates-file .github/gates.yml`. */
  source: string;
  /** Looks up `secret-env` variables (the step's environment). */
  env?: (name: string) => string | undefined;
}

const SIZE = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const SIZE_UNIT: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = SIZE.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * SIZE_UNIT[(match[2] ?? 'b')[0]!.toLowerCase()]!;
}

const pathSchema = z.string({ error: 'must be a path relative to the release directory' }).transform((text, ctx) => {
  const result = releasePath(text);
  if ('problem' in result) {
    ctx.addIssue({ code: 'custom', message: result.problem });
    return z.NEVER;
  }
  return result.value;
});

const nameSchema = z.string({ error: 'must be text' }).trim().min(1, { message: 'is empty' }).optional();

const sizeSchema = z.unknown().transform((value, ctx) => {
  const size = parseSize(value);
  if (size === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(value)} is not a size; write bytes (1024) or with a unit (10k, 2M)`,
    });
    return z.NEVER;
  }
  return size;
});

const booleanSchema = z.unknown().transform((value, ctx) => {
  const parsed = typeof value === 'boolean' ? value : typeof value === 'string' ? parseBoolean(value) : undefined;
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a boolean; write true or false` });
    return z.NEVER;
  }
  return parsed;
});

const durationSchema = z.unknown().transform((value, ctx) => {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a duration above 0; ${DURATION_HINT}` });
    return z.NEVER;
  }
  if (ms > MAX_WAIT_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(value)} is longer than 24h, the most it may be; e.g. 10m`,
    });
    return z.NEVER;
  }
  return ms;
});

const regexSchema = z.string({ error: 'must be a regular expression' }).transform((text, ctx) => {
  try {
    return new RegExp(text, 'm');
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `"${text}" is not a valid regular expression: ${(error as Error).message}`,
    });
    return z.NEVER;
  }
});

const assertionsSchema = z
  .union([z.string(), z.array(z.union([z.string(), z.number(), z.boolean()]))], {
    error: 'must be path=value lines (a block of lines or a list), e.g. name=acme/app',
  })
  .transform((value, ctx) => {
    const items = typeof value === 'string' ? parseList(value) : value.map(String);
    const assertions: JsonAssertion[] = [];
    for (const item of items) {
      const result = parseJsonAssertion(item);
      if ('problem' in result) ctx.addIssue({ code: 'custom', message: result.problem });
      else assertions.push(result.value);
    }
    return assertions;
  });

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** What each kind accepts, keyed as written in YAML; strict, so a misspelt key is named with the valid ones. */
const KIND_SCHEMAS = {
  file: z.strictObject({ file: pathSchema, name: nameSchema, 'min-size': sizeSchema.optional() }),
  dir: z.strictObject({ dir: pathSchema, name: nameSchema, writable: booleanSchema.optional() }),
  absent: z.strictObject({ absent: pathSchema, name: nameSchema }),
  symlink: z.strictObject({
    symlink: pathSchema,
    name: nameSchema,
    'points-to': z
      .string({ error: 'must be the link target as text' })
      .trim()
      .min(1, { error: 'is empty; write the link target' })
      .optional(),
  }),
  json: z.strictObject({ json: pathSchema, name: nameSchema, expect: assertionsSchema.optional() }),
  command: z.strictObject({
    command: z
      .string({ error: 'must be a shell command' })
      .trim()
      .min(1, { message: 'is empty; write the shell command to run' }),
    name: nameSchema,
    'expect-exit': z
      .number({ error: 'must be an exit code from 0 to 255' })
      .int({ error: 'must be an exit code from 0 to 255' })
      .min(0, { error: 'must be an exit code from 0 to 255' })
      .max(255, { error: 'must be an exit code from 0 to 255' })
      .optional(),
    'expect-output': regexSchema.optional(),
    timeout: durationSchema.optional(),
  }),
  'env-match': z.strictObject({
    'env-match': z.strictObject(
      {
        file: pathSchema.optional(),
        key: z
          .string({ error: 'must be the variable name, e.g. HEALTHCHECK_TOKEN' })
          .regex(ENV_KEY, { message: 'must be a variable name such as HEALTHCHECK_TOKEN' }),
        secret: z
          .string({
            error:
              'must be text: put the secret in quotes (secret: "${{ secrets.HEALTHCHECK_TOKEN }}"), or use secret-env',
          })
          .optional(),
        'secret-env': z
          .string({ error: 'must be the name of an environment variable' })
          .regex(ENV_KEY, { message: 'must be an environment variable name' })
          .optional(),
      },
      { error: 'must be a mapping: {file: .env, key: HEALTHCHECK_TOKEN, secret: …}' },
    ),
    name: nameSchema,
  }),
  'backup-fresh': z.strictObject({
    'backup-fresh': z.strictObject(
      {
        'max-age': durationSchema,
        'backups-root': z
          .string({ error: 'must be a path (relative to the release directory, or absolute)' })
          .trim()
          .min(1, { error: 'is empty; write the backups directory, e.g. /var/www/app/backups' })
          .optional(),
        database: z.string({ error: 'must be a database name' }).trim().min(1, { error: 'is empty' }).optional(),
      },
      { error: 'must be a mapping: {max-age: 24h}' },
    ),
    name: nameSchema,
  }),
} as const;

const validKeys = (kind: GateKind) => Object.keys(KIND_SCHEMAS[kind].shape);
/** The keys of a kind written as a mapping (`env-match: {…}`, `backup-fresh: {…}`). */
const nestedKeys = (kind: GateKind) =>
  kind === 'backup-fresh'
    ? Object.keys(KIND_SCHEMAS['backup-fresh'].shape['backup-fresh'].shape)
    : Object.keys(KIND_SCHEMAS['env-match'].shape['env-match'].shape);

class Problems {
  readonly list: string[] = [];
  constructor(private readonly lineCounter: LineCounter) {}
  at(node: { range?: [number, number, number] | null } | null | undefined, message: string) {
    const offset = node?.range?.[0];
    this.list.push(offset === undefined ? message : `line ${this.lineCounter.linePos(offset).line}: ${message}`);
  }
}

/** The key node at a path of nested mappings (the deepest that exists), for the line number of a problem. */
function keyNode(map: YAMLMap, path: readonly PropertyKey[]): Node | undefined {
  let current: unknown = map;
  let found: Node | undefined;
  for (const segment of path) {
    if (!isMap(current)) break;
    const pair = current.items.find((item) => isScalar(item.key) && item.key.value === segment);
    if (!pair) break;
    found = pair.key as Node;
    current = pair.value;
  }
  return found;
}

function valueAtPath(data: unknown, path: readonly PropertyKey[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

/** A backup-fresh gate from its checked mapping (`backups-root` defaults to `<releases-root>/backups`). */
function backupFreshGate(data: Record<string, unknown>): Gate {
  const spec = data['backup-fresh'] as { 'max-age': number; 'backups-root'?: string; database?: string };
  return gate({
    kind: 'backup-fresh',
    name: data.name as string | undefined,
    maxAgeMs: spec['max-age'],
    backupsRoot: spec['backups-root'] ?? DEFAULT_GATE_BACKUPS_ROOT,
    database: spec.database,
  });
}

function toGate(
  kind: GateKind,
  data: Record<string, unknown>,
  env: ParseGatesOptions['env'],
  fail: (key: PropertyKey[], message: string) => void,
): Gate | undefined {
  switch (kind) {
    case 'file':
      return gate({
        kind,
        name: data.name as string | undefined,
        path: data.file as string,
        minSize: data['min-size'] as number | undefined,
      });
    case 'dir':
      return gate({
        kind,
        name: data.name as string | undefined,
        path: data.dir as string,
        writable: (data.writable as boolean | undefined) ?? false,
      });
    case 'absent':
      return gate({ kind, name: data.name as string | undefined, path: data.absent as string });
    case 'symlink':
      return gate({
        kind,
        name: data.name as string | undefined,
        path: data.symlink as string,
        pointsTo: data['points-to'] as string | undefined,
      });
    case 'json':
      return gate({
        kind,
        name: data.name as string | undefined,
        path: data.json as string,
        expect: (data.expect as JsonAssertion[] | undefined) ?? [],
      });
    case 'command':
      return gate({
        kind,
        name: data.name as string | undefined,
        command: data.command as string,
        expectExit: (data['expect-exit'] as number | undefined) ?? 0,
        expectOutput: data['expect-output'] as RegExp | undefined,
        timeoutMs: data.timeout as number | undefined,
      });
    case 'env-match': {
      const spec = data['env-match'] as { file?: string; key: string; secret?: string; 'secret-env'?: string };
      if ((spec.secret === undefined) === (spec['secret-env'] === undefined)) {
        fail(
          ['env-match'],
          'env-match needs exactly one of secret (the value, e.g. ${{ secrets.HEALTHCHECK_TOKEN }}) or secret-env (the name of a step environment variable holding it)',
        );
        return undefined;
      }
      let secret = spec.secret;
      if (spec['secret-env'] !== undefined) {
        secret = env?.(spec['secret-env']);
        if (!secret) {
          fail(
            ['env-match', 'secret-env'],
            `environment variable ${spec['secret-env']} is not set or empty; add it to the step: env: { ${spec['secret-env']}: \${{ secrets.${spec['secret-env']} }} }`,
          );
          return undefined;
        }
      }
      if (!secret) {
        fail(['env-match', 'secret'], 'the secret is empty (is the GitHub secret defined and available to this job?)');
        return undefined;
      }
      return gate({ kind, name: data.name as string | undefined, file: spec.file ?? '.env', key: spec.key, secret });
    }
    case 'backup-fresh':
      return backupFreshGate(data);
  }
}

/**
 * Parses a YAML list of gates. Every problem is collected with its line number and reported at once;
 * no message ever quotes an env-match secret.
 */
export function parseGates(text: string, { source, env }: ParseGatesOptions): Gate[] {
  const tab = tabIndentProblem(text);
  if (tab) throw gatesError(source, [tab]);
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems = new Problems(lineCounter);
  const kindsHint = `valid kinds: ${GATE_KINDS.join(', ')}`;
  for (const error of document.errors) {
    // Only the first line of the message: the rest is a code frame that could show a secret.
    const line = lineCounter.linePos(Math.min(error.pos[0], Math.max(text.length - 1, 0))).line;
    const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    problems.list.push(line ? `line ${line}: ${message}` : message);
  }
  if (problems.list.length > 0) throw gatesError(source, problems.list);

  const root = document.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return [];
  if (!isSeq(root)) {
    problems.at(root, `gates must be a YAML list, one gate per item (e.g. "- file: artisan"); ${kindsHint}`);
    throw gatesError(source, problems.list);
  }

  const gates: Gate[] = [];
  for (const item of root.items) {
    if (!isMap(item)) {
      problems.at(
        item as Node,
        `a gate is a mapping whose key names its kind, e.g. "- file: artisan" or "- dir: storage"; ${kindsHint}`,
      );
      continue;
    }
    const keys = item.items.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key)));
    const kinds = GATE_KINDS.filter((kind) => keys.includes(kind));
    if (kinds.length !== 1) {
      const unknown = keys.filter((key) => key !== 'name' && !GATE_KINDS.includes(key as GateKind));
      problems.at(
        item,
        kinds.length === 0
          ? `unknown gate kind${unknown.length ? ` "${unknown[0]}"` : ''}; ${kindsHint}${unknown.length ? didYouMean(unknown[0]!, GATE_KINDS) : ''}`
          : `one gate has several kinds (${kinds.join(', ')}); write one list item per gate`,
      );
      continue;
    }
    const kind = kinds[0]!;
    const data = item.toJSON() as Record<string, unknown>;
    const result = KIND_SCHEMAS[kind].safeParse(data);
    const fail = (path: PropertyKey[], message: string) => problems.at(keyNode(item, path) ?? item, message);
    if (!result.success) {
      for (const issue of result.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          const nested = issue.path.length > 0;
          const keysHere = nested ? nestedKeys(kind) : validKeys(kind);
          for (const key of issue.keys) {
            // Inside a flow-style env-match (`{…}`) an unknown key may be the tail of a secret the YAML split at
            // ", " (`secret: a, b c`): it is not quoted there, and the fix is named instead.
            const value = nested && kind === 'env-match' ? item.get('env-match', true) : undefined;
            const secretSide = isMap(value) && value.flow === true;
            fail(
              [...issue.path, key],
              secretSide
                ? `an unknown key for env-match (not shown: it may be part of a secret split at a comma); valid keys: ${keysHere.join(', ')}; pass the secret as secret-env (a step environment variable) so no YAML reads it`
                : `unknown key "${key}" for ${nested ? kind : `a ${kind} gate`}; valid keys: ${keysHere.join(', ')}${didYouMean(String(key), keysHere)}`,
            );
          }
        } else {
          const label = issue.path.length > 0 ? issue.path.join('.') : kind;
          const missing = issue.code === 'invalid_type' && valueAtPath(data, issue.path) === undefined;
          fail(issue.path, missing ? `${label} is required for a ${kind} gate` : `${label} ${issue.message}`);
        }
      }
      continue;
    }
    const parsed = toGate(kind, result.data as Record<string, unknown>, env, fail);
    if (parsed) gates.push(parsed);
  }
  if (problems.list.length > 0) throw gatesError(source, problems.list);
  return gates;
}

function gatesError(source: string, problems: readonly string[]): UserError {
  const hint = 'Fix the YAML (see the gate reference in the README).';
  return new UserError(
    problems.length === 1
      ? `${source}: ${problems[0]}. ${hint}`
      : `${source} has ${problems.length} problems:\n- ${problems.join('\n- ')}\n${hint}`,
  );
}
