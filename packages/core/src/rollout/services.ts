import { emptyServices, type ServiceInput } from './service-input.js';

/**
 * Parses the `services` YAML: a list of services, each a mapping of ServiceInput's keys (service-input.ts); every
 * problem told at once with its line (services-yaml.ts). The YAML parser is loaded on first use, once there is text to parse: an empty input
 * gets the answer the parser gives to an empty document without loading it, so a step stopped at an input error does
 * not compile it (README, Cold start; test/rollout/services-empty.test.ts checks both say the same).
 */
export async function parseServices(text: string): Promise<{ value: ServiceInput[] } | { problems: string[] }> {
  if (text === '') return { problems: [emptyServices()] };
  return (await import('./services-yaml.js')).parseServicesYaml(text);
}
