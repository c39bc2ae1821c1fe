import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InputError, UserError } from '#core/errors.js';
import type { Gate } from '#core/gates/model.js';
import { presetGates } from '#core/gates/presets.js';
import type { PreSwitchGatesInputs } from './inputs.js';

/**
 * Values written after `secret:` in gate YAML, found before the YAML is parsed, so that not even a
 * parse error can show one. (The runner already masks `${{ secrets.… }}`; this covers everything else.)
 */
export function inlineSecrets(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/\bsecret\s*:[ \t]*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^,}\n#]*)/g)) {
    const raw = match[1]!.trim();
    found.push(raw);
    if (/^["']/.test(raw)) found.push(raw.slice(1, -1));
  }
  return found;
}

/** The gates to run: the preset's, then the `gates` YAML, then the `gates-file`'s, with every `secret:` masked first. */
export async function loadGates(
  inputs: PreSwitchGatesInputs,
  workspace: string,
  mask: (...secrets: string[]) => void,
): Promise<Gate[]> {
  const gates: Gate[] = presetGates(inputs.preset);
  // The YAML parser is loaded only when there is YAML to read: a preset alone starts faster.
  const parseGates = async (text: string, source: string) =>
    (await import('#core/gates/spec.js')).parseGates(text, { source, env: (name: string) => process.env[name] });
  if (inputs.gates.trim() !== '') gates.push(...(await parseGates(inputs.gates, 'Input "gates"')));
  const gatesFile = inputs['gates-file'];
  if (gatesFile) {
    let text: string;
    try {
      text = await readFile(resolve(workspace, gatesFile), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InputError(
        'gates-file',
        `cannot read ${gatesFile} (${code === 'ENOENT' ? `no such file in ${workspace}` : (code ?? 'unreadable')}); give a path relative to the repository root and check out the repository before this step`,
      );
    }
    mask(...inlineSecrets(text));
    gates.push(...(await parseGates(text, `Input "gates-file" (${gatesFile})`)));
  }
  for (const gate of gates) if (gate.kind === 'env-match') mask(gate.secret);
  if (gates.length === 0)
    throw new UserError(
      'No gates to run: set "preset" (laravel, node or python), "gates" (a YAML list) or "gates-file"',
    );
  return gates;
}

/** The definition as data for the report, without the env-match secret. */
export function describeGate(gate: Gate): Record<string, unknown> {
  if (gate.kind === 'env-match')
    return { kind: gate.kind, name: gate.name, file: gate.file, key: gate.key, secret: 'set (masked)' };
  if (gate.kind === 'command') return { ...gate, expectOutput: gate.expectOutput?.source };
  return { ...gate };
}
