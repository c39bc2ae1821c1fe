import type { ActionMetadata } from './metadata.js';

/** One line on what each action does and a command to start from (the README's examples, shortened). */
const known: Record<string, { summary: string; example: string }> = {
  'db-backup': {
    summary: 'Takes a verified PostgreSQL or MySQL/MariaDB backup before a migration, and restores one on demand.',
    example:
      'deploy-gates db-backup --engine postgres --env-file /var/www/app/shared/.env --releases-root /var/www/app --target local',
  },
  'deployment-ledger': {
    summary:
      'Writes the evidence of a deploy: a versioned JSON ledger and a summary topped by GO / NO-GO, from the reports.',
    example: 'deploy-gates deployment-ledger --reports-dir ./reports --environment stage --ledger-path ledger.json',
  },
  'deployment-record': {
    summary: "Keeps an environment's GitHub deployment true: success only after smoke, re-recorded after a rollback.",
    example:
      'GITHUB_TOKEN=$(gh auth token) deploy-gates deployment-record --mode start --environment stage --sha "$(git rev-parse HEAD)" --repository octo-org/app',
  },
  'egress-sentinel': {
    summary:
      'Proves a job (or a command) connected only to allowed endpoints: conntrack-based, audit or block, IPv4 and IPv6.',
    example:
      'sudo deploy-gates egress-sentinel --allowed-endpoints db.internal:5432 --mode block -- ./run-smoke-tests.sh',
  },
  'health-retry': {
    summary:
      'Probes HTTP endpoints with bounded retries until they answer as expected (status, JSON, body, assets, SLO).',
    example:
      'deploy-gates health-retry --urls https://staging.example.com/health --expect-json status=ok --attempts 6 --interval 5s',
  },
  'pack-bundle': {
    summary:
      'Packs a build directory into a deterministic tar.gz (same tree, same bytes) and its sha256sum checksum file.',
    example:
      'deploy-gates pack-bundle --path build --name "deployment-bundle-$(git rev-parse HEAD)" --exclude .git --output-dir /tmp/bundle',
  },
  'pre-switch-gates': {
    summary: 'Read-only checks that a release directory is complete and runnable before anything points at it.',
    example:
      'deploy-gates pre-switch-gates --release-dir /var/www/app/releases/20250102_030405-abcdef12 --preset laravel',
  },
  'release-switch': {
    summary:
      'Switches `current` atomically with hooks; rolls back by history (never to a bad release); mark-bad, unlock.',
    example: 'deploy-gates release-switch --releases-root /var/www/app --release 20250102_030405-abcdef12 --keep 5',
  },
  releases: {
    summary: 'Lists the releases of a releases-root: current, bad, was live or never switched, with SHA, time and run.',
    example: 'deploy-gates releases --releases-root /var/www/app --target local',
  },
  'branch-protection-audit': {
    summary: 'Checks that branches really enforce the checks the pipeline relies on (classic protection + rulesets).',
    example:
      'GITHUB_TOKEN=$(gh auth token) deploy-gates branch-protection-audit --repositories octo-org/app --policy-file .github/branch-policy.yml',
  },
  'release-services': {
    summary:
      'Rolls a release out to several services in order, health-checks each, and rolls back the switched ones together.',
    example:
      'deploy-gates release-services --release 20250102_030405-abcdef12 --services "$(cat services.yml)" --verify-command ./smoke.sh',
  },
  'resolve-build-run': {
    summary: 'Finds the successful build run (and its artifact) of exactly this commit, or fails saying what it found.',
    example:
      'GITHUB_TOKEN=$(gh auth token) deploy-gates resolve-build-run --repository octo-org/app --workflow build-artifacts.yml --sha "$(git rev-parse HEAD)"',
  },
  'verify-bundle-sha': {
    summary:
      "Verifies a bundle (file or another run's artifact) against its SHA-256 and unpacks it safely into a new release.",
    example:
      'deploy-gates verify-bundle-sha --bundle /tmp/bundle/deployment-bundle-abc.tar.gz --extract-to /var/www/app/releases --release-name 20250102_030405-abcdef12',
  },
};

/** The first sentence of a description, on one line. */
function firstSentence(text: string): string {
  const line = text.trim().replace(/\s+/g, ' ');
  const end = line.search(/[.:](\s|$)/);
  return end > 0 ? `${line.slice(0, end)}.` : line;
}

export function actionSummary(action: ActionMetadata): string {
  return known[action.name]?.summary ?? firstSentence(action.description ?? '');
}

/** A command line for the action: the README's example, else one giving each required input. */
export function actionExample(action: ActionMetadata): string {
  const example = known[action.name]?.example;
  if (example) return example;
  const required = Object.entries(action.inputs).filter(([, input]) => input.required && input.default === undefined);
  return ['deploy-gates', action.name, ...required.map(([name]) => `--${name} <${name}>`)].join(' ');
}

/** `deploy-gates <action> --help`: what it does, an example, then every input with its default. */
export function actionHelp(action: ActionMetadata): string {
  const lines = [
    `deploy-gates ${action.name}: ${actionSummary(action)}`,
    '',
    `Example:\n  ${actionExample(action)}`,
    '',
    'Inputs:',
  ];
  for (const [name, input] of Object.entries(action.inputs)) {
    const note = input.required ? ' (required)' : input.default ? ` (default: ${input.default})` : '';
    lines.push(`  --${name}${note}\n      ${String(input.description ?? '').trim()}`);
  }
  lines.push('', 'Reports go to a fresh directory per run (printed); --out DIR puts them in DIR.');
  return lines.join('\n');
}
