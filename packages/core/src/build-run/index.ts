export * from './resolve.js';
export * from './schemas.js';
