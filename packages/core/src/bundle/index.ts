/** Bundles: deterministic packing, the commit a bundle is made from, and verification + safe unpacking on a target. */
export * from './commit.js';
export * from './pack.js';
export * from './verify.js';
export * from './render.js';
