import { describe, expect, it } from '@jest/globals';
import { parseServices } from '#core/rollout/index.js';
import { parseServicesYaml } from '#core/rollout/services-yaml.js';

/**
 * release-services answers an empty `services` input without loading its YAML parser (a step stopped at that input
 * error starts faster, README Cold start); the answer must be the one the parser gives, word for word.
 */
describe('services: an empty input', () => {
  it('gets the YAML parser answer to an empty document, without the parser', async () => {
    const answer = await parseServices('');
    expect(answer).toEqual(parseServicesYaml(''));
    expect(answer).toEqual({ problems: [expect.stringMatching(/^must be a YAML list with at least one service/)] });
  });

  it('anything else is the parser answer (a comment alone, a list)', async () => {
    for (const text of ['# none yet', '- name: api\n  releases-root: /srv/api\n  health-urls: http://127.0.0.1/h'])
      expect(await parseServices(text)).toEqual(parseServicesYaml(text));
  });
});
