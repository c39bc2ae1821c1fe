export * from './result.js';
export * from './markdown.js';
export * from './json.js';
