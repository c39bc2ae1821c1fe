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

/**
 * A recursive-descent scanner over the text that only moves its position: every rule throws Stop at the first
 * character it cannot accept, so no part of the text is ever copied into an error.
 */
class JsonScanner {
  private i = 0;
  constructor(private readonly text: string) {}

  /** One JSON text: a value, then nothing but whitespace. */
  document(): void {
    this.value();
    this.blank();
    if (this.i < this.text.length) throw new Stop(this.i);
  }

  private blank(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i]!)) this.i++;
  }

  private expect(char: string): void {
    if (this.text[this.i] !== char) throw new Stop(this.i);
    this.i++;
  }

  private literal(word: string): void {
    for (const char of word) this.expect(char);
  }

  private string(): void {
    const { text } = this;
    this.expect('"');
    for (;;) {
      if (this.i >= text.length) throw new Stop(this.i);
      const char = text[this.i]!;
      if (char === '"') return void this.i++;
      if (char < ' ') throw new Stop(this.i);
      if (char === '\\') {
        ESCAPE.lastIndex = this.i + 1;
        if (!ESCAPE.test(text)) throw new Stop(this.i + 1);
        this.i = ESCAPE.lastIndex;
      } else this.i++;
    }
  }

  private object(): void {
    this.expect('{');
    this.blank();
    if (this.text[this.i] === '}') return void this.i++;
    for (;;) {
      this.blank();
      this.string();
      this.blank();
      this.expect(':');
      this.value();
      this.blank();
      if (this.text[this.i] !== ',') return this.expect('}');
      this.i++;
    }
  }

  private array(): void {
    this.expect('[');
    this.blank();
    if (this.text[this.i] === ']') return void this.i++;
    for (;;) {
      this.value();
      this.blank();
      if (this.text[this.i] !== ',') return this.expect(']');
      this.i++;
    }
  }

  private number(): void {
    NUMBER.lastIndex = this.i;
    if (this.i >= this.text.length || !NUMBER.test(this.text)) throw new Stop(this.i);
    this.i = NUMBER.lastIndex;
  }

  private value(): void {
    this.blank();
    const char = this.text[this.i];
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') return this.string();
    if (char === 't') return this.literal('true');
    if (char === 'f') return this.literal('false');
    if (char === 'n') return this.literal('null');
    this.number();
  }
}

/** The first syntax error of `text` as JSON (RFC 8259, as JSON.parse reads it), or undefined when it is JSON. */
export function jsonSyntaxError(text: string): JsonSyntaxError | undefined {
  try {
    new JsonScanner(text).document();
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
