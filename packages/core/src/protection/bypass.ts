/**
 * Ruleset bypass actors, named for people and matched against the policy's `allowed-bypass:` list. GitHub gives
 * only ids; the built-in repository roles have fixed ones (maintain 2, write 4, admin 5 — not documented by GitHub,
 * see github/rest-api-description#4406 and #7111; integrations/terraform-provider-github uses the same), any other
 * role id is a custom role. Organisation admins (`OrganizationAdmin`) and the repository admin role bypassing a rule
 * is what classic protection calls "not enforced for administrators"; every other actor is its own finding.
 */
export interface BypassActor {
  /** `RepositoryRole`, `OrganizationAdmin`, `Team`, `Integration`, `DeployKey`, `User`. */
  type: string;
  id: number | null;
  /** `always`, `pull_request` (only by merging a pull request), `exempt` (rules not even evaluated). */
  mode: string;
}

const ROLE_NAMES: Record<number, string> = { 2: 'maintain', 4: 'write', 5: 'admin' };
const ROLE_IDS: Record<string, number> = { maintain: 2, write: 4, admin: 5 };
/** The GitHub Actions app (GITHUB_TOKEN pushes and workflow check runs). */
export const GITHUB_ACTIONS_APP_ID = 15368;

/** The policy form of an actor: `role:write`, `role:7`, `team:42`, `app:15368`, `user:1`, `deploy-key`, `org-admin`. */
export function actorKey(actor: Pick<BypassActor, 'type' | 'id'>): string {
  switch (actor.type) {
    case 'RepositoryRole':
      return `role:${(actor.id !== null && ROLE_NAMES[actor.id]) || actor.id}`;
    case 'OrganizationAdmin':
      return 'org-admin';
    case 'DeployKey':
      return 'deploy-key';
    case 'Integration':
      return `app:${actor.id}`;
    default:
      return `${actor.type.toLowerCase()}:${actor.id}`;
  }
}

export function describeActor(actor: BypassActor): string {
  const who =
    actor.type === 'RepositoryRole'
      ? actor.id !== null && ROLE_NAMES[actor.id]
        ? `repository role ${ROLE_NAMES[actor.id]} (everyone with ${ROLE_NAMES[actor.id]} access)`
        : `custom repository role ${actor.id}`
      : actor.type === 'OrganizationAdmin'
        ? 'organization admins'
        : actor.type === 'DeployKey'
          ? 'any deploy key with write access'
          : actor.type === 'Integration'
            ? actor.id === GITHUB_ACTIONS_APP_ID
              ? 'the GitHub Actions app (any workflow with contents: write)'
              : `GitHub App ${actor.id}`
            : `${actor.type.toLowerCase()} ${actor.id}`;
  const mode =
    actor.mode === 'pull_request'
      ? 'bypass_mode: pull_request — by merging a pull request past the rules'
      : actor.mode === 'exempt'
        ? 'bypass_mode: exempt — the rules are not even evaluated, no bypass is logged'
        : 'bypass_mode: always — pushing straight past the rules';
  return `${who} [${actorKey(actor)}] (${mode})`;
}

export const bypassIsAdmin = (actor: BypassActor): boolean =>
  actor.type === 'OrganizationAdmin' || (actor.type === 'RepositoryRole' && actor.id === ROLE_IDS.admin);

const ACTOR_KEY = /^(role:(maintain|write|admin|\d+)|(team|app|user):\d+|deploy-key|org-admin)$/;

/** A policy `allowed-bypass:` entry in its canonical form, or undefined when it is not one. */
export function parseActorKey(text: string): string | undefined {
  const value = text.trim().toLowerCase();
  if (!ACTOR_KEY.test(value)) return undefined;
  const role = /^role:(\d+)$/.exec(value);
  return role && ROLE_NAMES[Number(role[1])] ? `role:${ROLE_NAMES[Number(role[1])]}` : value;
}
