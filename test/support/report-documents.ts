import { reportDocument } from '#action-kit/report.js';
import type { ReportFile } from '#core/ledger/read.js';
import type { ReportFacts, ReportStage } from '#core/report/document.js';
import type { CheckResult } from '#core/report/result.js';

/** What one action returned, as the envelope turns it into a report document. */
export interface Written {
  action: string;
  stage: ReportStage;
  results?: readonly CheckResult[];
  failure?: string;
  report?: ReportFacts;
  startedAt?: string;
}

/**
 * A report file as the ledger reads it: the document the envelope writes for an action's result (through the same
 * code, and a JSON round trip), under a file name.
 */
export function reportFile(name: string, written: Written, file = `${name}.json`): ReportFile {
  const startedAt = new Date(written.startedAt ?? '2025-11-02T15:49:00.000Z');
  const document = reportDocument(
    written.action,
    { path: file, stage: written.stage, startedAt, startedMs: 0 },
    { results: written.results ?? [], failure: written.failure, report: written.report },
    5,
  );
  return { name, file, document: JSON.parse(JSON.stringify(document)) };
}
