/** The deployment ledger: the actions' reports read, judged and rendered. */
export * from './build.js';
export * from './markdown.js';
export * from './read.js';
