export * from './server.js';
export * from './fixtures.js';
export { validateResponse } from './openapi.js';
export { zipFiles } from './zip.js';
