import type { LineResult } from '../units/lists.js';

/** The comparisons a query line may use; the query's value must satisfy it against the threshold. */
export const QUERY_OPS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type QueryOp = (typeof QUERY_OPS)[number];

/** A threshold: a number, or arithmetic over numbers and `<baseline>` (the query's value at the switch). */
export type Threshold =
  | { kind: 'number'; value: number }
  | { kind: 'baseline' }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/'; left: Threshold; right: Threshold };

/** One line of `queries`: `name: <PromQL> <op> <threshold>`. */
export interface PrometheusQuery {
  name: string;
  expr: string;
  op: QueryOp;
  threshold: Threshold;
  /** The threshold as written, for messages. */
  thresholdText: string;
  /** Whether the threshold names `<baseline>`, so the baseline must be queried. */
  usesBaseline: boolean;
}

export const QUERY_EXAMPLE = '5xx: sum(rate(http_requests_total{code=~"5.."}[5m])) <= 1.5 * <baseline>';
const NAME = /^([A-Za-z0-9][A-Za-z0-9_.-]*):\s+(\S.*)$/;
const BASELINE = '<baseline>';

/**
 * Where the comparison that ends a query line starts: the last `<`, `<=`, `>`, `>=`, `==` or `!=` outside quotes,
 * braces, brackets and parentheses that is not part of `<baseline>`, `=~` or `!~`. PromQL has these operators too
 * (`a > 0`, `{code!="200"}`), so the last top-level one is the line's: the threshold after it has none of its own.
 */
function lastComparison(text: string): { at: number; op: QueryOp } | undefined {
  let depth = 0;
  let quote: string | undefined;
  let found: { at: number; op: QueryOp } | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c)) depth--;
    else if (depth === 0 && text.startsWith(BASELINE, i)) i += BASELINE.length - 1;
    else if (depth === 0 && '<>=!'.includes(c)) {
      const two = text.slice(i, i + 2);
      if (two === '=~' || two === '!~') i++;
      else if ((QUERY_OPS as readonly string[]).includes(two)) {
        found = { at: i, op: two as QueryOp };
        i++;
      } else if (c === '<' || c === '>') found = { at: i, op: c };
    }
  }
  return found;
}

/** Parses a threshold: numbers, `<baseline>`, + - * / and parentheses, e.g. `1.5 * <baseline> + 0.1`. */
export function parseThreshold(text: string): Threshold | undefined {
  const tokens = text.match(/<baseline>|\d+(?:\.\d+)?(?:e[+-]?\d+)?|\.\d+|[-+*/()]|\S/gi) ?? [];
  let at = 0;
  const peek = () => tokens[at];
  const primary = (): Threshold | undefined => {
    const token = tokens[at++];
    if (token === BASELINE) return { kind: 'baseline' };
    if (token === '(') {
      const inner = sum();
      return tokens[at++] === ')' ? inner : undefined;
    }
    if (token === '-') {
      const inner = primary();
      return inner && { kind: 'binary', op: '-', left: { kind: 'number', value: 0 }, right: inner };
    }
    return token !== undefined && /^(\d|\.\d)/.test(token) ? { kind: 'number', value: Number(token) } : undefined;
  };
  const chain = (next: () => Threshold | undefined, ops: string) => (): Threshold | undefined => {
    let left = next();
    while (left && peek() !== undefined && ops.includes(peek()!)) {
      const op = tokens[at++] as '+' | '-' | '*' | '/';
      const right = next();
      left = right && { kind: 'binary', op, left, right };
    }
    return left;
  };
  const product = chain(primary, '*/');
  const sum = chain(product, '+-');
  const threshold = sum();
  return threshold && at === tokens.length ? threshold : undefined;
}

/** The threshold's value for a baseline (NaN when it needs a baseline and has none). */
export function thresholdValue(threshold: Threshold, baseline: number | undefined): number {
  switch (threshold.kind) {
    case 'number':
      return threshold.value;
    case 'baseline':
      return baseline ?? Number.NaN;
    case 'binary': {
      const [a, b] = [thresholdValue(threshold.left, baseline), thresholdValue(threshold.right, baseline)];
      return threshold.op === '+' ? a + b : threshold.op === '-' ? a - b : threshold.op === '*' ? a * b : a / b;
    }
  }
}

/** Whether `value op threshold` holds; NaN (no data for a quantile) never holds. */
export function compare(value: number, op: QueryOp, threshold: number): boolean {
  if (Number.isNaN(value) || Number.isNaN(threshold)) return false;
  switch (op) {
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

const problem = (line: string, why: string): { problem: string } => ({
  problem: `line "${line}" ${why}; write name: <PromQL> <op> <threshold>, e.g. ${QUERY_EXAMPLE}`,
});

/** One `queries` line: `name: <PromQL> <op> <threshold>`, with the problem told and an example when it is not. */
export function parseQueryLine(line: string): LineResult<PrometheusQuery> {
  const named = NAME.exec(line.trim());
  if (!named) return problem(line, 'does not start with a name and ": " (letters, digits, ".", "_", "-")');
  const [, name, rest] = named as unknown as [string, string, string];
  const comparison = lastComparison(rest);
  if (!comparison) return problem(line, `has no comparison (one of ${QUERY_OPS.join(' ')}) before the threshold`);
  const expr = rest.slice(0, comparison.at).trim();
  const thresholdText = rest.slice(comparison.at + comparison.op.length).trim();
  if (!expr) return problem(line, `has no PromQL query before "${comparison.op}"`);
  // `=<`, `=>`, `<>`: a comparison PromQL does not have, not a query ending in `=`.
  const glued = /[=!<>~]+$/.exec(expr)?.[0];
  if (glued)
    return problem(line, `has an unknown comparison "${glued}${comparison.op}"; use one of ${QUERY_OPS.join(' ')}`);
  const threshold = parseThreshold(thresholdText);
  if (!threshold)
    return problem(
      line,
      `has a threshold "${thresholdText}" that is not a number or arithmetic (+ - * / and parentheses) over numbers and <baseline>`,
    );
  return {
    value: { name, expr, op: comparison.op, threshold, thresholdText, usesBaseline: thresholdText.includes(BASELINE) },
  };
}

/** Names must be unique: they name the check in the summary and the report. */
export function duplicateQueryNames(queries: readonly PrometheusQuery[]): string[] {
  const names = queries.map((query) => query.name);
  return [...new Set(names.filter((name, index) => names.indexOf(name) !== index))];
}
