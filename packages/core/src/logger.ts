/** The seam through which core reports progress; actions adapt it to @actions/core, tests record it. */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = {
  info() {},
  warning() {},
  error() {},
  debug() {},
};

/** Records every line; used by tests and by callers that want the log as data. */
export class MemoryLogger implements Logger {
  readonly lines: { level: keyof Logger; message: string }[] = [];
  info(message: string) {
    this.lines.push({ level: 'info', message });
  }
  warning(message: string) {
    this.lines.push({ level: 'warning', message });
  }
  error(message: string) {
    this.lines.push({ level: 'error', message });
  }
  debug(message: string) {
    this.lines.push({ level: 'debug', message });
  }
}
