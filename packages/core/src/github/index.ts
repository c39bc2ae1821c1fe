/**
 * The GitHub REST API: parsing of what users write (SHAs, owner/name), typed queries, their response checks and
 * errors. The Octokit client (./client.ts) is not exported here: an action imports it on first use, so a step that
 * never calls the API does not load Octokit.
 */
export * from './errors.js';
export * from './parse.js';
export * from './queries.js';
export * from './schemas.js';
