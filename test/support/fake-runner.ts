import type { Runner } from '#action-kit/runner.js';

/**
 * A Runner that records what an action tells the runner, for running `run()` in-process (as the typescript-action
 * template does with its typed @actions/core fakes): inputs and STATE_ values go in, everything else is recorded.
 */
export class FakeRunner implements Runner {
  readonly secrets: string[] = [];
  readonly outputs: Record<string, string> = {};
  readonly savedState: Record<string, string> = {};
  /** Every call in order: `info: …`, `warning: …`, `group: …`, … (what the step's log would show). */
  readonly log: string[] = [];
  summaryText = '';
  failed: string | undefined;

  constructor(
    private readonly inputs: Record<string, string> = {},
    private readonly state: Record<string, string> = {},
  ) {}

  getInput = (name: string) => this.inputs[name] ?? '';
  getMultilineInput = (name: string) =>
    this.getInput(name)
      .split('\n')
      .filter((line) => line.trim() !== '');
  setSecret = (secret: string) => void this.secrets.push(secret);
  setOutput = (name: string, value: string) => void (this.outputs[name] = value);
  info = (message: string) => void this.log.push(`info: ${message}`);
  debug = (message: string) => void this.log.push(`debug: ${message}`);
  warning = (message: string) => void this.log.push(`warning: ${message}`);
  error = (message: string) => void this.log.push(`error: ${message}`);
  setFailed = (message: string) => {
    this.failed = message;
    this.log.push(`failed: ${message}`);
  };
  startGroup = (name: string) => void this.log.push(`group: ${name}`);
  endGroup = () => void this.log.push('endgroup');
  saveState = (name: string, value: string) => void (this.savedState[name] = value);
  getState = (name: string) => this.state[name] ?? '';
  summary: Runner['summary'] = {
    addRaw: (text: string) => ({
      write: async () => {
        this.summaryText += text;
      },
    }),
  };

  /** Index of the first log entry containing `text`, -1 if none. */
  indexOf(text: string): number {
    return this.log.findIndex((line) => line.includes(text));
  }
}
