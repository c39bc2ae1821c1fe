import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ArgumentError, UserError } from '../errors.js';
import type { Gate } from './model.js';
import { presetGates, type Preset } from './presets.js';

/** Where gates come from: a preset, gate YAML given inline, a gate YAML file under the workspace. */
export interface GateSources {
  preset: Preset;
  /** Gate YAML as text ('' for none). */
  gates: string;
  /** A path relative to the workspace. */
  gatesFile?: string;
}

export interface LoadGatesOptions {
  workspace: string;
  /** Registers secrets found in the YAML before it is parsed. */
  mask: (...secrets: string[]) => void;
  /** Reads an environment variable (an env-match gate's `secret-env`). */
  env: (name: string) => string | undefined;
  /** How problems name the two YAML sources, e.g. `Input "gates"`; `gates` / `gates file <path>` when not given. */
  label?: { gates: string; gatesFile: (file: string) => string };
}

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

/**
 * The gates to run: the preset's, then the inline YAML, then the file's, with every `secret:` masked before the YAML
 * is parsed (the inline YAML's are masked by the caller before anything runs: it arrives as an input).
 */
export async function loadGates(sources: GateSources, options: LoadGatesOptions): Promise<Gate[]> {
  const { workspace, mask, env } = options;
  const label = options.label ?? { gates: 'gates', gatesFile: (file: string) => `gates file ${file}` };
  const gates: Gate[] = presetGates(sources.preset);
  // The YAML parser is loaded only when there is YAML to read: a preset alone starts faster.
  const parseGates = async (text: string, source: string) =>
    (await import('./spec.js')).parseGates(text, { source, env });
  if (sources.gates.trim() !== '') gates.push(...(await parseGates(sources.gates, label.gates)));
  const gatesFile = sources.gatesFile;
  if (gatesFile) {
    let text: string;
    try {
      text = await readFile(resolve(workspace, gatesFile), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ArgumentError(
        'gatesFile',
        `cannot read ${gatesFile} (${code === 'ENOENT' ? `no such file in ${workspace}` : (code ?? 'unreadable')}); give a path relative to the repository root and check out the repository before this step`,
      );
    }
    mask(...inlineSecrets(text));
    gates.push(...(await parseGates(text, label.gatesFile(gatesFile))));
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
