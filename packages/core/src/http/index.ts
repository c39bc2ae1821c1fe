/** HTTP checks: what is given as text (URLs, headers, body patterns, JSON expectations) and how a response is judged. */
export * from './expectations.js';
export * from './parse.js';
