/**
 * action-kit's public entry: the envelope every action is declared with (./define.ts), the runner seams
 * (./runner.ts, ./protocol-runner.ts) and the start of a bundle (./entry.ts). Only actions/*\/src and the tests
 * import it; core never does.
 */
import { z } from 'zod';

export {
  defineAction,
  type ActionContext,
  type ActionDefinition,
  type ActionResult,
  type DefinedAction,
  type Inputs,
  type SecretKind,
} from './define.js';
export type { ReportFacts } from './report.js';
export type { Runner } from './runner.js';

/** An output value: a non-empty string on one line, without `null`/`undefined` spelled out. */
export const outputValue = () =>
  z
    .string()
    .min(1)
    .regex(/^[^\r\n]*$/, { message: 'must be one line' })
    .refine((value) => value !== 'null' && value !== 'undefined', {
      message: 'must be a real value, not null/undefined',
    });
