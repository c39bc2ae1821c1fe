export * from './target.js';
export * from './local.js';
export * from './ssh.js';
export * from './inputs.js';
