/** The result model and the one report document: its schema, writing it, rendering results as markdown. */
export {
  parseReportDocument,
  REPORT_STAGES,
  REPORT_VERSION,
  reportDocumentSchema,
  reportJsonSchema,
  type ReportDocument,
  type ReportFacts,
  type ReportRun,
  type ReportStage,
} from './document.js';
export { writeJsonReport } from './json.js';
export { markdownText, renderSummary, type Summary } from './markdown.js';
export {
  formatResultLine,
  headline,
  statusIcon,
  tally,
  type CheckResult,
  type CheckStatus,
  type Tally,
} from './result.js';
