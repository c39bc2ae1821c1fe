import { describe, expect, it } from '@jest/globals';
import { parseInputs } from '#action-kit/inputs.js';
import { healthRetryInputs, toConfig } from '../../actions/health-retry/src/inputs.js';

/** health-retry's inputs as the envelope reads them (others empty), then the watch window made of them. */
async function watch(given: Record<string, string>) {
  const inputs = await parseInputs(
    healthRetryInputs,
    (name) => ({ urls: 'https://app.example.com/health', ...given })[name] ?? '',
  );
  return (await toConfig(inputs, process.cwd())).watch;
}
const refused = async (given: Record<string, string>) => {
  try {
    await watch(given);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the inputs were accepted');
};

describe('watch inputs', () => {
  it('is off by default, and unhealthy-for defaults to interval × attempts', async () => {
    expect(await watch({})).toBeUndefined();
    expect(await watch({ watch: '3m', interval: '5s', attempts: '6' })).toMatchObject({
      windowMs: 180_000,
      unhealthyForMs: 30_000,
    });
    expect(
      await watch({ watch: '3m', 'unhealthy-for': '3m', 'slo-max-error-rate': '5%', 'slo-p95': '2s' }),
    ).toMatchObject({
      unhealthyForMs: 180_000,
      maxErrorRate: 0.05,
      p95Ms: 2_000,
    });
    const prometheus = (await watch({
      watch: '5m',
      'prometheus-url': 'https://prometheus.example.com',
      'prometheus-token': 'secret-token',
      queries: '5xx: sum(rate(x{code=~"5.."}[5m])) < 1.5 * <baseline>\n# a comment\nup: min(up) == 1',
    }))!.prometheus!;
    expect(prometheus.source).toEqual({ url: new URL('https://prometheus.example.com'), token: 'secret-token' });
    expect(prometheus.queries.map((q) => q.name)).toEqual(['5xx', 'up']);
  });

  it('refuses inputs that only make sense together, naming the input with an example', async () => {
    expect(await refused({ watch: '3m', queries: 'up: min(up) == 1' })).toBe(
      'Input "queries": needs prometheus-url, the Prometheus server to ask, e.g. https://prometheus.example.com',
    );
    expect(await refused({ watch: '3m', 'prometheus-url': 'https://p.example.com' })).toMatch(
      /^Input "prometheus-url": is set but queries is empty; give one check per line, e.g. 5xx: sum\(rate/,
    );
    expect(await refused({ 'prometheus-url': 'https://p.example.com', queries: 'up: min(up) == 1' })).toBe(
      'Input "queries": are evaluated during the watch window, which is off: set watch, e.g. watch: 3m',
    );
    expect(await refused({ 'unhealthy-for': '1m' })).toBe(
      'Input "unhealthy-for": applies to the watch window, which is off: set watch, e.g. watch: 3m',
    );
    expect(await refused({ watch: '1m', interval: '0s' })).toMatch(/^Input "interval": must be more than 0 with watch/);
    expect(
      await refused({ watch: '1m', 'prometheus-url': 'https://p.example.com', queries: 'up: up == 1\nup: up > 0' }),
    ).toBe('Input "queries": name up more than once; every query needs its own name');
  });

  it('tells every bad queries line at once, with the input named', async () => {
    await expect(watch({ watch: '1m', queries: 'up up == 1\nok: up ~ 1' })).rejects.toThrow(
      /Input "queries": line "up up == 1" does not start with a name[\s\S]*line "ok: up ~ 1" has no comparison/,
    );
    await expect(watch({ watch: 'soon' })).rejects.toThrow(/Input "watch": "soon"/);
  });
});
