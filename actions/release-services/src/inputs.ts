import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { duration, integer, optional, statusSpec, withDefault } from '#core/inputs/schema.js';
import { parseList } from '#core/inputs/lists.js';
import { parseTargetAddress, type TargetAddress } from '#core/hosts/inputs.js';
import type { HealthConfig } from '#core/health/index.js';
import type { StatusSpec } from '#core/inputs/status.js';

/** One entry of `services` as written in the workflow. */
export interface ServiceInput {
  name: string;
  target: TargetAddress;
  releasesRoot: string;
  release?: string;
  healthUrls: URL[];
  beforeSwitch: string[];
  afterSwitch: string[];
  beforeRollback: string[];
}

const commandList = z
  .union([z.string().transform((text) => parseList(text)), z.array(z.string().trim().min(1))])
  .default([]);
const serviceEntry = z
  .object({
    name: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
        message: 'must be a plain name (letters, digits, ".", "_", "-"), e.g. gateway',
      }),
    target: z.string().trim().default('local'),
    'releases-root': z.string().trim().min(1, { message: 'is required: the directory holding releases/ and current' }),
    release: z.string().trim().min(1).optional(),
    'health-urls': z.union([z.string().transform((text) => parseList(text)), z.array(z.string().trim())]),
    'before-switch': commandList,
    'after-switch': commandList,
    'before-rollback': commandList,
  })
  .strict();

/** `services`: a YAML list of services in rollout order. */
const services = () =>
  z.string().transform((text, ctx): ServiceInput[] => {
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `is not YAML (${(error as Error).message.split('\n')[0]}); write a list of services, each with name, releases-root and health-urls`,
      });
      return z.NEVER;
    }
    if (!Array.isArray(doc) || doc.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a YAML list with at least one service (- name: gateway …), in rollout order',
      });
      return z.NEVER;
    }
    const out: ServiceInput[] = [];
    doc.forEach((item: unknown, index) => {
      const where = `service ${index + 1}${item && typeof item === 'object' && 'name' in item ? ` (${String((item as { name: unknown }).name)})` : ''}`;
      const parsed = serviceEntry.safeParse(item);
      if (!parsed.success) {
        for (const issue of parsed.error.issues)
          ctx.addIssue({ code: 'custom', message: `${where}: ${issue.path.join('.') || 'entry'} ${issue.message}` });
        return;
      }
      const entry = parsed.data;
      const target = parseTargetAddress(entry.target);
      if (!target)
        ctx.addIssue({
          code: 'custom',
          message: `${where}: target "${entry.target}" is not local or ssh://user@host[:port]`,
        });
      const urls: URL[] = [];
      for (const text of entry['health-urls']) {
        let url: URL | undefined;
        try {
          url = new URL(text);
        } catch {
          /* below */
        }
        if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
          ctx.addIssue({ code: 'custom', message: `${where}: health-urls "${text}" is not an http(s) URL` });
        else urls.push(url);
      }
      if (entry['health-urls'].length === 0)
        ctx.addIssue({
          code: 'custom',
          message: `${where}: health-urls needs at least one URL, e.g. https://gateway.example.com/health`,
        });
      if (target) {
        out.push({
          name: entry.name,
          target,
          releasesRoot: entry['releases-root'],
          release: entry.release,
          healthUrls: urls,
          beforeSwitch: entry['before-switch'],
          afterSwitch: entry['after-switch'],
          beforeRollback: entry['before-rollback'],
        });
      }
    });
    return out;
  });

/** The inputs of release-services, keyed by their action.yml names, with the same defaults. */
export const releaseServicesInputs = {
  services: services(),
  release: optional(),
  'rollback-order': z.string().transform((text) => parseList(text, { commas: true })),
  'verify-command': optional(),
  'health-attempts': withDefault('6', integer({ min: 1, max: 1000 })),
  'health-interval': withDefault('5s', duration()),
  'health-timeout': withDefault(
    '10s',
    duration().refine((ms) => ms > 0, { message: 'must be longer than 0ms' }),
  ),
  'health-expect-status': withDefault('200', statusSpec()),
  keep: withDefault('5', integer({ min: 0, max: 1000 })),
  'hook-timeout': withDefault(
    '10m',
    duration().refine((ms) => ms > 0, { message: 'must be longer than 0ms' }),
  ),
  'lock-timeout': withDefault('5m', duration()),
  'rollback-budget': withDefault('15m', duration()),
  'ssh-key': optional(),
  'known-hosts': optional(),
  'report-path': optional(),
};

export type ReleaseServicesInputs = z.output<z.ZodObject<typeof releaseServicesInputs>>;

export function healthFor(service: ServiceInput, inputs: ReleaseServicesInputs): HealthConfig {
  const status: StatusSpec = inputs['health-expect-status'];
  return {
    urls: service.healthUrls,
    expect: { status, json: [] },
    headers: {},
    attempts: inputs['health-attempts'],
    intervalMs: inputs['health-interval'],
    maxIntervalMs: Math.max(inputs['health-interval'], 60_000),
    timeoutMs: inputs['health-timeout'],
    gracePeriodMs: 0,
    backoff: 'fixed',
    consecutiveSuccesses: 1,
    followRedirects: true,
  };
}
