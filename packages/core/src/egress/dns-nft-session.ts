import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const TIMEOUT_MS = 10_000;

/**
 * A long-lived `nft -e -i`: one input line is one transaction (all or nothing), answered by `# new generation …` on
 * stdout when it was committed, or `Error: …` on stderr when not. Saves spawning nft for each answer the DNS
 * forwarder lets through. After an error, a timeout or an exit the process is dropped, and the next run starts
 * another, so that nothing a failed transaction printed can be taken for the next one's outcome.
 */
export class NftSession {
  private child?: ChildProcess;
  private settle?: (error?: Error) => void;

  constructor(private readonly prefix: readonly string[]) {}

  private open(): ChildProcess {
    const [file, ...args] = [...this.prefix, 'nft', '-e', '-i'];
    const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const mine = () => this.child === child;
    child.on('error', (error) => mine() && this.finish(new Error(`nft could not be started: ${error.message}`)));
    child.on('exit', (code) => mine() && this.finish(new Error(`nft ended (exit code ${code})`)));
    child.stdin!.on('error', () => undefined);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (mine() && line.startsWith('# new generation')) this.finish();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (mine() && line.startsWith('Error:')) this.finish(new Error(line));
    });
    return child;
  }

  private finish(error?: Error): void {
    if (error && this.child) {
      this.child.kill();
      this.child = undefined;
    }
    const settle = this.settle;
    this.settle = undefined;
    settle?.(error);
  }

  /** Runs the commands as one transaction; one at a time (the caller serialises). */
  run(commands: readonly string[]): Promise<void> {
    this.child ??= this.open();
    const child = this.child;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.finish(new Error(`nft did not answer within ${TIMEOUT_MS}ms`)), TIMEOUT_MS);
      this.settle = (error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      child.stdin!.write(`${commands.join('; ')}\n`);
    });
  }

  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }
}
