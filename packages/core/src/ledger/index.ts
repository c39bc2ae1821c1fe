/** The deployment ledger's public face: read report documents, judge them into a ledger, render it. */
export { buildLedger, DEFAULT_REQUIRED_STAGES, evidenceMismatch, newestAttempts, type LedgerFacts } from './build.js';
export { renderLedger, verdictLine } from './markdown.js';
export { readReports, type ReportFile } from './read.js';
export { LEDGER_FORMAT, LEDGER_VERSION, ledgerSchema, type Ledger, type LedgerStage } from './schema.js';
