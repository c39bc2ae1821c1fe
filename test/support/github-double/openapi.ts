import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/**
 * Validates requests (method, path, path and query parameters) and response bodies against GitHub's published
 * REST description (api.github.com, from the `@octokit/openapi` package). The JSON file is read directly (not through the package's index, which
 * would load every GHES variant too); ajv resolves the description's $refs itself.
 */
const require = createRequire(import.meta.url);
const SPEC_PATH = require.resolve('@octokit/openapi/generated/api.github.com.json');

// ajv-formats is CommonJS with a default export; under ESM interop it may arrive wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: { type?: string };
}
interface Operation {
  parameters?: (Parameter | { $ref: string })[];
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: {
    responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
    parameters: Record<string, Parameter>;
  };
}

let shared: { ajv: Ajv; spec: Spec } | undefined;

/**
 * OpenAPI 3.0's `nullable: true` beside a `$ref`/`allOf` and no `type` (the branch protection schemas have it):
 * ajv rejects that form, so it is rewritten to what it means, `anyOf: [the schema, null]`.
 */
function allowNullWithoutType(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowNullWithoutType);
  if (!node || typeof node !== 'object') return node;
  const entries = Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, allowNullWithoutType(value)]),
  ) as Record<string, unknown>;
  if (entries.nullable === true && entries.type === undefined) {
    const { nullable: _nullable, description, ...rest } = entries;
    return { ...(description === undefined ? {} : { description }), anyOf: [rest, { type: 'null' }] };
  }
  return entries;
}

function load() {
  if (!shared) {
    const spec = allowNullWithoutType(JSON.parse(readFileSync(SPEC_PATH, 'utf8'))) as Spec;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    ajv.addSchema(spec as object, 'gh');
    shared = { ajv, spec };
  }
  return shared;
}

const pointer = (...parts: string[]) => parts.map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const cache = new Map<string, ValidateFunction>();

/**
 * The validator for one operation's response: `template` is the description's path (`/repos/{owner}/{repo}/…`),
 * `status` the HTTP status. A status the operation does not declare is checked against `basic-error`, the
 * shape of GitHub's error bodies.
 */
export function responseValidator(template: string, method: string, status: number): ValidateFunction {
  const key = `${method} ${template} ${status}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const { ajv, spec } = load();
  const operation = spec.paths[template]?.[method.toLowerCase()];
  if (!operation) throw new Error(`The GitHub description has no operation ${method} ${template}`);
  let ref: string;
  const declared = operation.responses[String(status)];
  if (declared?.$ref) {
    const name = declared.$ref.split('/').pop()!;
    ref = `gh#/${pointer('components', 'responses', name, 'content', 'application/json', 'schema')}`;
    if (!spec.components.responses[name]?.content?.['application/json']?.schema)
      ref = 'gh#/components/schemas/basic-error';
  } else if (declared?.content?.['application/json']?.schema) {
    ref = `gh#/${pointer('paths', template, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema')}`;
  } else {
    ref = 'gh#/components/schemas/basic-error';
  }
  const validate = ajv.compile({ $ref: ref });
  cache.set(key, validate);
  return validate;
}

/** The problems of one body against the description, as readable lines; empty when it fits. */
export function validateResponse(template: string, method: string, status: number, body: unknown): string[] {
  // A status the description declares without a body (a 302 with its Location header): there must be none.
  const declared = load().spec.paths[template]?.[method.toLowerCase()]?.responses[String(status)];
  if (declared && !declared.$ref && !declared.content)
    return body === undefined ? [] : [`${status} has no body in GitHub's description`];
  const validate = responseValidator(template, method, status);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
}

interface Template {
  template: string;
  pattern: RegExp;
  names: string[];
  literals: number;
}
let templates: Template[] | undefined;

/** Every path of the description as a pattern, the most specific (most literal segments) first. */
function pathTemplates(): Template[] {
  templates ??= Object.keys(load().spec.paths)
    .map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)')}$`),
      names: [...template.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!),
      literals: template.split('/').filter((segment) => segment && !segment.startsWith('{')).length,
    }))
    .sort((a, b) => b.literals - a.literals);
  return templates;
}

export interface RequestCheck {
  /** The description's path template the request was matched to (when one has its method). */
  template?: string;
  /** Empty when the request fits; else the HTTP status the double answers (404 unknown path, 405 method, 400 parameters). */
  problems: string[];
  status: number;
}

/** The operation's parameters with their JSON pointers (for ajv), $refs resolved. */
function parametersOf(template: string, method: string): { parameter: Parameter; pointer: string }[] {
  const { spec } = load();
  return (spec.paths[template]![method]!.parameters ?? []).map((entry, index) => {
    if ('$ref' in entry) {
      const name = entry.$ref.split('/').pop()!;
      return {
        parameter: spec.components.parameters[name]!,
        pointer: `gh#/${pointer('components', 'parameters', name, 'schema')}`,
      };
    }
    return {
      parameter: entry,
      pointer: `gh#/${pointer('paths', template, method, 'parameters', String(index), 'schema')}`,
    };
  });
}

/** Whether one parameter value fits its schema: query strings carry no type, so a number or boolean reading counts. */
function valueProblem(ref: string, where: string, value: string): string | undefined {
  let validate = cache.get(ref);
  if (!validate) {
    validate = load().ajv.compile({ $ref: ref });
    cache.set(ref, validate);
  }
  const readings: unknown[] = [value, value.split(',')];
  if (/^-?\d+(\.\d+)?$/.test(value)) readings.push(Number(value));
  if (value === 'true' || value === 'false') readings.push(value === 'true');
  if (readings.some((reading) => validate(reading))) return undefined;
  validate(value);
  const error = validate.errors?.[0];
  const allowed = (error?.params as { allowedValues?: unknown[] } | undefined)?.allowedValues;
  return `${where} ${JSON.stringify(value)} ${error?.message ?? 'is invalid'}${allowed ? ` (${allowed.join(', ')})` : ''}`;
}

/**
 * The problems of one request against the description: an unknown path, a method the path does not have, path
 * parameters of the wrong type, query parameters it does not declare or with invalid values, required ones missing.
 */
export function checkRequest(method: string, path: string, query: URLSearchParams): RequestCheck {
  const verb = method.toLowerCase();
  const matches = pathTemplates().flatMap((candidate) => {
    const match = candidate.pattern.exec(path);
    return match ? [{ candidate, values: match.slice(1) }] : [];
  });
  if (matches.length === 0)
    return { problems: [`no path of GitHub's REST description matches ${method} ${path}`], status: 404 };
  const found = matches.find(({ candidate }) => load().spec.paths[candidate.template]![verb]);
  if (!found) {
    const has = Object.keys(load().spec.paths[matches[0]!.candidate.template]!)
      .filter((key) => key !== 'parameters')
      .map((key) => key.toUpperCase());
    return {
      problems: [
        `${matches[0]!.candidate.template} has no ${method} in GitHub's REST description (it has ${has.join(', ')})`,
      ],
      status: 405,
    };
  }
  const { template, names } = found.candidate;
  const problems: string[] = [];
  const parameters = parametersOf(template, verb);
  names.forEach((name, index) => {
    const declared = parameters.find(({ parameter }) => parameter.in === 'path' && parameter.name === name);
    const problem =
      declared && valueProblem(declared.pointer, `path parameter ${name}`, decodeURIComponent(found.values[index]!));
    if (problem) problems.push(problem);
  });
  const queryParameters = parameters.filter(({ parameter }) => parameter.in === 'query');
  for (const name of new Set(query.keys())) {
    const declared = queryParameters.find(({ parameter }) => parameter.name === name);
    if (!declared) {
      problems.push(
        `unknown query parameter ${JSON.stringify(name)} (${template} declares ${queryParameters.map(({ parameter }) => parameter.name).join(', ') || 'none'})`,
      );
      continue;
    }
    for (const value of query.getAll(name)) {
      const problem = valueProblem(declared.pointer, `query parameter ${name}`, value);
      if (problem) problems.push(problem);
    }
  }
  for (const { parameter } of queryParameters)
    if (parameter.required && !query.has(parameter.name))
      problems.push(`required query parameter ${parameter.name} is missing`);
  return { template, problems, status: problems.length > 0 ? 400 : 200 };
}

/** The problems of a request body (PUT, POST, PATCH) against the operation's JSON request schema; empty when it fits. */
export function validateRequestBody(template: string, method: string, body: unknown): string[] {
  const { ajv, spec } = load();
  const verb = method.toLowerCase();
  const operation = spec.paths[template]?.[verb] as
    (Operation & { requestBody?: { content?: Record<string, { schema?: unknown }> } }) | undefined;
  if (!operation?.requestBody?.content?.['application/json']?.schema) return [];
  const ref = `gh#/${pointer('paths', template, verb, 'requestBody', 'content', 'application/json', 'schema')}`;
  let validate = cache.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    cache.set(ref, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map(
    (error) => `request body ${error.instancePath || '/'} ${error.message ?? 'is invalid'}`,
  );
}
