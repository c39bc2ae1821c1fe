/**
 * The part of @actions/core's public API that the envelope uses to talk to the runner. @actions/core's module
 * fits it as it is, and so do the stubs @github/local-action puts in its place; the committed bundles use
 * ./protocol-runner.ts, the same functions without @actions/core's eager HTTP stack.
 */
export interface Runner {
  getInput(name: string): string;
  getMultilineInput(name: string): string[];
  setSecret(secret: string): void;
  setOutput(name: string, value: string): void;
  info(message: string): void;
  debug(message: string): void;
  warning(message: string, properties?: { title?: string }): void;
  error(message: string, properties?: { title?: string }): void;
  setFailed(message: string): void;
  startGroup(name: string): void;
  endGroup(): void;
  saveState(name: string, value: string): void;
  getState(name: string): string;
  summary: { addRaw(text: string, addEOL?: boolean): { write(): Promise<unknown> } };
}

/**
 * @actions/core's public API, loaded on demand: what `run()` uses when the code is loaded by anything but the
 * runner starting a bundle (@github/local-action swaps this module for its stubs, which then show outputs,
 * summary and annotations). The bundles keep it out: the runner's start goes through ./entry.ts with the
 * protocol runner.
 */
export async function actionsCore(): Promise<Runner> {
  // webpackIgnore: the bundler leaves this a plain import() resolved at run time, so @actions/core is neither
  // bundled nor loaded when the runner starts a bundle (a test runs every bundle with no node_modules around it).
  return (await import(/* webpackIgnore: true */ '@actions/core')) as Runner;
}
