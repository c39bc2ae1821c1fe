/** Units as people write them in inputs and read them in reports: durations, sizes, rates, status lists, lists, globs. */
export * from './duration.js';
export * from './glob.js';
export * from './lists.js';
export * from './rate.js';
export * from './size.js';
export * from './status.js';
export * from './suggest.js';
