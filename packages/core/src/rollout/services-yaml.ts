import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { parseTargetAddress } from '../hosts/open.js';
import { httpUrl } from '../http/parse.js';
import { parseList } from '../units/lists.js';
import { didYouMean } from '../units/suggest.js';
import { parseSharedEntries, type SharedPlan } from '../release/shared.js';
import { EXAMPLE, emptyServices, type ServiceInput } from './service-input.js';
import { tabIndentProblem } from '../yaml-indent.js';

const KEYS = [
  'name',
  'target',
  'releases-root',
  'release',
  'health-urls',
  'before-switch',
  'after-switch',
  'before-rollback',
  'shared',
  'shared-replace',
] as const;
type Key = (typeof KEYS)[number];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses the `services` YAML (loaded on first use by services.ts' `parseServices`): a list of services, each a mapping of the keys above. Every problem is told at once
 * with its line, the service it belongs to, the valid keys and the key a typo meant, as gate YAML's are.
 */
export function parseServicesYaml(text: string): { value: ServiceInput[] } | { problems: string[] } {
  const tab = tabIndentProblem(text);
  if (tab) return { problems: [tab] };
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined) =>
    node?.range ? `line ${lineCounter.linePos(node.range[0]).line}: ` : '';
  const problems: string[] = document.errors.map(
    // Only the first line of the message: the rest is a code frame.
    (error) =>
      `line ${lineCounter.linePos(Math.min(error.pos[0], Math.max(text.length - 1, 0))).line}: not valid YAML (${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')})`,
  );
  if (problems.length > 0) return { problems };
  const root = document.contents;
  if (!isSeq(root) || root.items.length === 0) return { problems: [emptyServices(lineOf(root as Node))] };
  const services: ServiceInput[] = [];
  root.items.forEach((item, index) => {
    if (!isMap(item)) {
      problems.push(`${lineOf(item as Node)}service ${index + 1} is not a mapping; write it as\n${EXAMPLE}`);
      return;
    }
    const service = parseService(item, `service ${index + 1}`, (node, message) =>
      problems.push(`${lineOf(node)}${message}`),
    );
    if (service) services.push(service);
  });
  return problems.length > 0 ? { problems } : { value: services };
}

type Report = (node: Node | null | undefined, message: string) => void;

function parseService(item: YAMLMap, label: string, report: Report): ServiceInput | undefined {
  const pairs = new Map<Key, Pair>();
  const name = item.get('name');
  const where = typeof name === 'string' ? `${label} (${name})` : label;
  let ok = true;
  const fail = (node: Node | null | undefined, message: string) => ((ok = false), report(node, `${where}: ${message}`));
  for (const pair of item.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if ((KEYS as readonly string[]).includes(key)) pairs.set(key as Key, pair);
    else fail(pair.key as Node, `unknown key "${key}"; valid keys: ${KEYS.join(', ')}${didYouMean(key, KEYS)}`);
  }
  const text = (key: Key, required: string | undefined): string | undefined => {
    const pair = pairs.get(key);
    const value = pair && isScalar(pair.value) ? pair.value.value : pair?.value;
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      if (required) fail(pair?.key ? (pair.key as Node) : item, `${key} is required: ${required}`);
      return undefined;
    }
    if (typeof value === 'string' || typeof value === 'number') return String(value).trim();
    fail(pair!.value as Node, `${key} must be text, e.g. ${key}: ${required ? 'value' : '…'}`);
    return undefined;
  };
  const serviceName = text('name', 'a plain name (letters, digits, ".", "_", "-"), e.g. gateway');
  if (serviceName !== undefined && !NAME.test(serviceName))
    fail(
      pairs.get('name')!.value as Node,
      `name "${serviceName}" must be a plain name (letters, digits, ".", "_", "-"), e.g. gateway`,
    );
  const targetText = text('target', undefined) ?? 'local';
  const target = parseTargetAddress(targetText);
  if (!target)
    fail(
      pairs.get('target')?.value as Node,
      `target "${targetText}" is not local or ssh://user@host[:port], e.g. ssh://deploy@gateway.example.com`,
    );
  const releasesRoot = text('releases-root', 'the directory holding releases/ and current, e.g. /srv/gateway');
  const release = text('release', undefined);
  const healthUrls = urls(pairs.get('health-urls'), item, fail);
  const [beforeSwitch, afterSwitch, beforeRollback] = (
    ['before-switch', 'after-switch', 'before-rollback'] as const
  ).map((key) => commands(key, pairs.get(key), fail));
  const shared = sharedOf(pairs.get('shared'), pairs.get('shared-replace'), fail);
  if (!ok || !target || serviceName === undefined || releasesRoot === undefined) return undefined;
  return {
    shared,
    name: serviceName,
    target,
    releasesRoot,
    release,
    healthUrls,
    beforeSwitch: beforeSwitch!,
    afterSwitch: afterSwitch!,
    beforeRollback: beforeRollback!,
  };
}

/** A list written as a YAML list or as text with one item per line; undefined (told) when it is neither. */
function items(key: Key, pair: Pair | undefined, fail: Report): string[] | undefined {
  const value = pair?.value;
  if (value === undefined || value === null) return [];
  if (isScalar(value)) return value.value === null ? [] : parseList(String(value.value));
  if (
    isSeq(value) &&
    value.items.every((entry) => isScalar(entry) && ['string', 'number'].includes(typeof entry.value))
  )
    return value.items.map((entry) => String((entry as { value: unknown }).value).trim()).filter(Boolean);
  fail(value as Node, `${key} must be a list of text (one item per line, or a YAML list)`);
  return undefined;
}

function urls(pair: Pair | undefined, item: YAMLMap, fail: Report): URL[] {
  const texts = items('health-urls', pair, fail);
  if (texts === undefined) return [];
  if (texts.length === 0) {
    fail((pair?.key as Node) ?? item, 'health-urls needs at least one URL, e.g. https://gateway.example.com/health');
    return [];
  }
  const found: URL[] = [];
  for (const text of texts) {
    const result = httpUrl(text);
    if ('problem' in result) fail(pair!.value as Node, `health-urls ${result.problem}`);
    else found.push(result.value);
  }
  return found;
}

function commands(key: Key, pair: Pair | undefined, fail: Report): string[] {
  return items(key, pair, fail) ?? [];
}

/** `shared` (a list of paths, as release-switch's input) and `shared-replace` (true/false) of one service. */
function sharedOf(pair: Pair | undefined, replacePair: Pair | undefined, fail: Report): SharedPlan | undefined {
  const paths = items('shared', pair, fail) ?? [];
  const replaceValue = replacePair && isScalar(replacePair.value) ? replacePair.value.value : replacePair?.value;
  const replace = replaceValue === true || replaceValue === 'true';
  if (
    replaceValue !== undefined &&
    replaceValue !== null &&
    !replace &&
    replaceValue !== false &&
    replaceValue !== 'false'
  )
    fail(replacePair!.value as Node, 'shared-replace must be true or false');
  if (paths.length === 0) return undefined;
  try {
    return { entries: parseSharedEntries(paths), replace };
  } catch (error) {
    fail(pair!.value as Node, `shared ${(error as Error).message}`);
    return undefined;
  }
}
