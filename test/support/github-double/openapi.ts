import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/**
 * Validates response bodies against GitHub's published REST description (api.github.com, from the
 * `@octokit/openapi` package). The JSON file is read directly (not through the package's index, which
 * would load every GHES variant too); ajv resolves the description's $refs itself.
 */
const require = createRequire(import.meta.url);
const SPEC_PATH = require.resolve('@octokit/openapi/generated/api.github.com.json');

// ajv-formats is CommonJS with a default export; under ESM interop it may arrive wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

interface Operation {
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };
}

let shared: { ajv: Ajv; spec: Spec } | undefined;

function load() {
  if (!shared) {
    const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Spec;
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
    if (!spec.components.responses[name]?.content?.['application/json']?.schema) ref = 'gh#/components/schemas/basic-error';
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
  const validate = responseValidator(template, method, status);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
}
