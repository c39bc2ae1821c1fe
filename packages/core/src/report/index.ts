/** The result model, the JSON report and the job summary's markdown. */
export * from './json.js';
export * from './markdown.js';
export * from './result.js';
export * from './document.js';
export * from './rendered.js';
