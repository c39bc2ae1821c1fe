import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { Finding, Rule } from './finding.js';

/**
 * The findings as SARIF 2.1.0 for code scanning (github/codeql-action/upload-sarif): one result per violation and
 * per unknown setting (as a note), located at the policy line that asked for it (or the workflow file), with a
 * stable fingerprint per repository, branch and rule so alerts close when fixed.
 */
const LEVEL = { P0: 'error', P1: 'warning', P2: 'note' } as const;
const SECURITY_SEVERITY = { P0: '9.0', P1: '6.0', P2: '3.0' } as const;

const RULE_TEXT: Record<Rule, string> = {
  protected: 'A branch the policy names is not protected at all',
  'required-checks-empty': 'A protected branch requires no status checks although the policy asks for some',
  'check-without-job': 'A required status check that no workflow job can report',
  'duplicate-workflow-name': 'Two workflow files share one display name',
  'branch-missing': 'A branch the policy names does not exist',
  'required-status-checks': 'Required status checks differ from the policy',
  strict: 'Branches need not be up to date before merging, unlike the policy',
  'enforce-admins': 'Administrators are bound (or not) unlike the policy',
  'required-approving-review-count': 'Fewer approving reviews required than the policy asks',
  'dismiss-stale-reviews': 'Stale review dismissal differs from the policy',
  'require-code-owner-reviews': 'Code owner review differs from the policy',
  'require-linear-history': 'Linear history differs from the policy',
  'allow-force-pushes': 'Force pushes allowed unlike the policy',
  'allow-deletions': 'Branch deletion allowed unlike the policy',
  'require-signed-commits': 'Signed commits differ from the policy',
  'require-conversation-resolution': 'Conversation resolution differs from the policy',
  bypass: 'An actor on a ruleset bypass list can get past a setting the policy requires',
  'check-unpinned': 'A required status check is not pinned to the app that reports it (any source can set it)',
  'check-app': 'A required status check is pinned to another app than the policy names',
  'check-not-on-merge-group': 'A required check comes from a workflow that does not run on merge_group (merge queue)',
  'environment-missing':
    'A deployment environment the policy names does not exist (GitHub would create it unprotected)',
  'environment-required-reviewers': 'A deployment environment has fewer required reviewers than the policy asks',
  'environment-prevent-self-review': 'A deployment environment lets the person who started a deployment approve it',
  'environment-deployment-branches':
    'A deployment environment accepts deployments from other branches than the policy allows',
  'environment-can-admins-bypass': 'Administrators can bypass the protection rules of a deployment environment',
  'environment-wait-timer': 'A deployment environment waits less than the policy asks',
};

const worst = (findings: readonly Finding[]) =>
  findings.some((finding) => finding.severity === 'P0')
    ? 'P0'
    : findings.some((finding) => finding.severity === 'P1')
      ? 'P1'
      : 'P2';

export function toSarif(findings: readonly Finding[], version: string): Log {
  const reported = findings.filter((finding) => finding.status !== 'ok');
  const ruleIds = [...new Set(reported.map((finding) => finding.rule))];
  const rules: ReportingDescriptor[] = ruleIds.map((id) => ({
    id: `branch-protection/${id}`,
    name: id.replace(/(^|-)([a-z])/g, (_m, _d: string, c: string) => c.toUpperCase()),
    shortDescription: { text: RULE_TEXT[id] },
    helpUri:
      'https://docs.github.com/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches',
    // Code scanning reads a rule's security-severity; a rule gets that of its worst finding.
    properties: {
      tags: ['security', 'branch-protection'],
      'security-severity': SECURITY_SEVERITY[worst(reported.filter((finding) => finding.rule === id))],
    },
  }));
  const results: Result[] = reported.map((finding) => ({
    ruleId: `branch-protection/${finding.rule}`,
    ruleIndex: ruleIds.indexOf(finding.rule),
    level: finding.status === 'unknown' ? 'note' : LEVEL[finding.severity],
    message: {
      text: `${finding.repository} ${finding.branch}: ${finding.rule} wanted ${finding.wanted}, actual ${finding.actual} (${finding.status === 'unknown' ? 'unknown' : finding.severity})${finding.fix ? `. Fix: ${finding.fix}` : ''}`,
    },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: finding.location.path },
          region: { startLine: finding.location.line },
        },
      },
    ],
    partialFingerprints: {
      // node:crypto is loaded here, on first use, not at import: it costs about 6 ms of the audit's start.
      branchProtectionFinding: process
        .getBuiltinModule('node:crypto')
        .createHash('sha256')
        .update(
          `${finding.repository}\0${finding.branch}\0${finding.rule}${finding.subject ? `\0${finding.subject}` : ''}`,
        )
        .digest('hex')
        .slice(0, 32),
    },
    properties: {
      repository: finding.repository,
      branch: finding.branch,
      severity: finding.severity,
      status: finding.status,
      wanted: finding.wanted,
      actual: finding.actual,
    },
  }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'deploy-gates branch-protection-audit',
            version,
            informationUri: 'https://github.com/deploy-gates/deploy-gates',
            rules,
          },
        },
        results,
      },
    ],
  };
}
