/**
 * Where a text stops being JSON, without showing any of it. JSON.parse's own message quotes the text
 * (`Unexpected token 'A', "APP_KEY=ba"... is not valid JSON`), and a file a json gate reads may be a .env or a key:
 * a detail must say where, never what.
 */
export interface JsonSyntaxError {
  /** 1-based line and column (in characters) of the first character that is not JSON, or of the end of the text. */
  line: number;
  column: number;
  /** Bytes (UTF-8) before that point. */
  byteOffset: number;
  /** Whether the text ended where more JSON was expected. */
  atEnd: boolean;
}

class Stop {
  constructor(readonly offset: number) {}
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE = /["\\/bfnrt]|u[0-9a-fA-F]{4}/y;

/** The first syntax error of `text` as JSON (RFC 8259, as JSON.parse reads it), or undefined when it is JSON. */
// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): one scanner over the text, split with the gates domain
export function jsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const blank = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (char: string) => {
    if (text[i] !== char) throw new Stop(i);
    i++;
  };
  const literal = (word: string) => {
    for (const char of word) expect(char);
  };
  const string = () => {
    expect('"');
    for (;;) {
      if (i >= text.length) throw new Stop(i);
      const char = text[i]!;
      if (char === '"') return void i++;
      if (char < ' ') throw new Stop(i);
      if (char === '\\') {
        ESCAPE.lastIndex = i + 1;
        if (!ESCAPE.test(text)) throw new Stop(i + 1);
        i = ESCAPE.lastIndex;
      } else i++;
    }
  };
  const value = (): void => {
    blank();
    const char = text[i];
    if (char === '{') {
      i++;
      blank();
      if (text[i] === '}') return void i++;
      for (;;) {
        blank();
        string();
        blank();
        expect(':');
        value();
        blank();
        if (text[i] === ',') i++;
        else return expect('}');
      }
    }
    if (char === '[') {
      i++;
      blank();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        blank();
        if (text[i] === ',') i++;
        else return expect(']');
      }
    }
    if (char === '"') return string();
    if (char === 't') return literal('true');
    if (char === 'f') return literal('false');
    if (char === 'n') return literal('null');
    NUMBER.lastIndex = i;
    if (char === undefined || !NUMBER.test(text)) throw new Stop(i);
    i = NUMBER.lastIndex;
  };
  try {
    value();
    blank();
    if (i < text.length) throw new Stop(i);
    return undefined;
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    const offset = Math.min(error.offset, text.length);
    const before = text.slice(0, offset);
    const lineStart = before.lastIndexOf('\n') + 1;
    return {
      line: before.split('\n').length,
      column: offset - lineStart + 1,
      byteOffset: Buffer.byteLength(before),
      atEnd: offset >= text.length,
    };
  }
}

/** `at line 3, column 7 (byte 41): unexpected character` — the place, never the text. */
export function describeJsonSyntaxError(error: JsonSyntaxError): string {
  return `at line ${error.line}, column ${error.column} (byte ${error.byteOffset}): ${error.atEnd ? 'the text ends where more JSON was expected' : 'unexpected character'}`;
}
