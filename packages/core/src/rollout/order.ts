import { ArgumentError } from '../errors.js';

/** The rollback order as given (names checked against the services), or the reverse of the rollout order. */
export function rollbackOrderOf(services: readonly { name: string }[], given: readonly string[] | undefined): string[] {
  const names = services.map((s) => s.name);
  if (!given || given.length === 0) return [...names].reverse();
  const unknown = given.filter((name) => !names.includes(name));
  if (unknown.length > 0)
    throw new ArgumentError(
      'rollbackOrder',
      `names services that are not in services: ${unknown.join(', ')}; list each service name once (${names.join(', ')})`,
    );
  const missing = names.filter((name) => !given.includes(name));
  const twice = given.filter((name, index) => given.indexOf(name) !== index);
  if (missing.length > 0 || twice.length > 0) {
    throw new ArgumentError(
      'rollbackOrder',
      `must list every service exactly once (${[missing.length ? `missing ${missing.join(', ')}` : '', twice.length ? `twice ${twice.join(', ')}` : ''].filter(Boolean).join('; ')})`,
    );
  }
  return [...given];
}
