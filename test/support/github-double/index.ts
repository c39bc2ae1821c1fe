export * from './server.js';
export * from './fixtures.js';
export { validateRequestBody, validateResponse } from './openapi.js';
export * from './protection-fixtures.js';
export { zipFiles } from './zip.js';
export * from './environment-fixtures.js';
export { addAttestation, type AttestationSpec } from './attestation-routes.js';
