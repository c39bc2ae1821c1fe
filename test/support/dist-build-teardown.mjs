// Jest globalTeardown: see dist-build.mjs.
export { stopDistBuild as default } from './dist-build.mjs';
