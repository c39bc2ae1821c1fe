import { ArgumentError, UserError } from '../errors.js';

/**
 * Where the database is and who logs in: from a `database-url` (`postgres://user:pass@host:5432/db`) or from the
 * DB_* keys of a Laravel `.env` read on the target. The password stays in this value and in the 0600 credential file
 * the host writes from it; it is never put on a command line.
 */
export const ENGINES = ['postgres', 'mysql'] as const;
export type Engine = (typeof ENGINES)[number];

export interface Connection {
  engine: Engine;
  /** A host name or address; a path starting with `/` is a unix socket (postgres: its directory; mysql: the socket). */
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  /** PostgreSQL's sslmode from database-url's `?sslmode=` (PGSSLMODE for the client tools); unset: libpq's default. */
  sslMode?: PgSslMode;
}

const PG_SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
type PgSslMode = (typeof PG_SSL_MODES)[number];

const DEFAULT_PORT: Record<Engine, number> = { postgres: 5432, mysql: 3306 };

/** URL schemes and Laravel DB_CONNECTION values, by engine. */
const ENGINE_NAMES: Record<string, Engine> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  pgsql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
};

export const URL_EXAMPLE = 'postgres://app:secret@db.internal:5432/app or mysql://app:secret@127.0.0.1:3306/app';

/** The input a problem with `source` is told under: database-url itself, or env-file for a URL read from it. */
const argumentOf = (source: string) => (source === 'database-url' ? 'databaseUrl' : 'envFile');

/** Parses a database URL; `source` names where it came from in errors (which never quote it: it holds a password). */
export function parseDatabaseUrl(text: string, engine: Engine, source: string): Connection {
  // The URL parser drops line breaks and tabs (`app\nx` would become `appx`): one is a mistake, told as such.
  if (/\p{Cc}/u.test(text.trim()))
    throw new ArgumentError(
      argumentOf(source),
      `${source} has a line break or control character; write it as ${URL_EXAMPLE}`,
    );
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ArgumentError(argumentOf(source), `${source} is not a URL; write it as ${URL_EXAMPLE}`);
  }
  const scheme = ENGINE_NAMES[url.protocol.replace(/:$/, '')];
  if (!scheme)
    throw new ArgumentError(
      argumentOf(source),
      `${source} has the scheme "${url.protocol}", which is not a database this action backs up; write it as ${URL_EXAMPLE}`,
    );
  if (scheme !== engine)
    throw new ArgumentError(
      argumentOf(source),
      `${source} is a ${scheme} URL but engine is ${engine}; set engine: ${scheme} or pass the ${engine} database's URL`,
    );
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ArgumentError(
        argumentOf(source),
        `${source} has a "%" that is not a %-escape; write "%" in a user, password or name as %25, e.g. ${URL_EXAMPLE}`,
      );
    }
  };
  const { socket, sslMode } = urlParameters(url, engine, source);
  return checkConnection(
    {
      engine,
      host: socket ?? url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : DEFAULT_PORT[engine],
      database: decode(url.pathname.replace(/^\//, '')),
      user: decode(url.username),
      password: url.password ? decode(url.password) : undefined,
      ...(sslMode ? { sslMode } : {}),
    },
    source,
  );
}

/**
 * The query parameters this action honours: `host`/`socket` (a unix socket) and, for postgres, `sslmode`. Any other
 * is refused by name rather than dropped: a dropped `?sslmode=require` would dump the database in plaintext.
 */
function urlParameters(url: URL, engine: Engine, source: string): { socket?: string; sslMode?: PgSslMode } {
  const bad = (text: string) => new ArgumentError(argumentOf(source), `${source}: ${text}`);
  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    const shown = JSON.stringify(name.slice(0, 40));
    if (seen.has(name)) throw bad(`the query parameter ${shown} is given twice; give it once`);
    seen.add(name);
    if (name === 'host' || name === 'socket' || (name === 'sslmode' && engine === 'postgres')) continue;
    if (engine === 'mysql' && /ssl|tls/i.test(name))
      throw bad(
        `the query parameter ${shown} is not supported for mysql (it would not be applied, and the dump would not be encrypted); remove it and set TLS in the client's option file on the target (~/.my.cnf, [client] section: ssl-mode=REQUIRED for MySQL, ssl and ssl-verify-server-cert for MariaDB), e.g. mysql://app:secret@db.internal:3306/app`,
      );
    throw bad(
      `the query parameter ${shown} is not supported (only ${engine === 'postgres' ? 'sslmode, ' : ''}host and socket are, and an unsupported one would be silently ignored); remove it, e.g. ${engine === 'postgres' ? 'postgres://app:secret@db.internal:5432/app?sslmode=require' : 'mysql://app:secret@127.0.0.1:3306/app?socket=/run/mysqld/mysqld.sock'}`,
    );
  }
  if (seen.has('host') && seen.has('socket')) throw bad('give host or socket as a query parameter, not both');
  const socket = url.searchParams.get('host') ?? url.searchParams.get('socket') ?? undefined;
  const mode = url.searchParams.get('sslmode');
  if (mode === null) return { socket };
  if (!(PG_SSL_MODES as readonly string[]).includes(mode))
    throw bad(`sslmode "${mode.slice(0, 40)}" is not one of ${PG_SSL_MODES.join(', ')}; e.g. ?sslmode=require`);
  return { socket, sslMode: mode as PgSslMode };
}

/**
 * Reads dotenv lines as Laravel (phpdotenv) does: `KEY=value`, `KEY="value"` (with \" \\ \$ escapes), `KEY='value'`,
 * `export KEY=value`, `KEY=value # comment`, CRLF endings. A key defined twice has its LAST value, as in Laravel:
 * phpdotenv v5's immutable writer only keeps variables set outside the file, and lets a later line of the same file
 * overwrite one it loaded itself.
 */
export function parseDotenv(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '').replace(/^export\s+/, '');
    if (line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    values.set(key, dotenvValue(line.slice(eq + 1)));
  }
  return values;
}

function dotenvValue(text: string): string {
  const value = text.replace(/^[ \t]+/, '');
  if (value.startsWith('"')) {
    let out = '';
    for (let i = 1; i < value.length; i++) {
      const c = value[i]!;
      if (c === '\\' && /["\\$]/.test(value[i + 1] ?? '')) out += value[++i];
      else if (c === '"') break;
      else out += c;
    }
    return out;
  }
  if (value.startsWith("'")) {
    const end = value.indexOf("'", 1);
    return end < 0 ? value.slice(1) : value.slice(1, end);
  }
  return value.replace(/[ \t]+#.*$/, '').trimEnd();
}

/** The keys of a Laravel .env the host sends back (and nothing else of the file). */
export const ENV_KEYS = [
  'DB_CONNECTION',
  'DB_HOST',
  'DB_PORT',
  'DB_SOCKET',
  'DB_DATABASE',
  'DB_USERNAME',
  'DB_PASSWORD',
  'DB_URL',
  'DATABASE_URL',
] as const;

/** The connection a Laravel .env describes: DB_URL or DATABASE_URL when set, else the DB_* keys. */
export function connectionFromEnv(text: string, engine: Engine, file: string): Connection {
  const env = parseDotenv(text);
  const url = env.get('DB_URL') || env.get('DATABASE_URL');
  if (url) return parseDatabaseUrl(url, engine, `${url === env.get('DB_URL') ? 'DB_URL' : 'DATABASE_URL'} in ${file}`);
  const named = env.get('DB_CONNECTION');
  if (named && ENGINE_NAMES[named] !== engine)
    throw new UserError(
      `DB_CONNECTION in ${file} is "${named}" but engine is ${engine}; set engine: ${ENGINE_NAMES[named] ?? 'postgres or mysql'} (sqlite and sqlsrv are not backed up)`,
    );
  const port = env.get('DB_PORT');
  if (port !== undefined && port !== '' && !/^\d{1,5}$/.test(port))
    throw new UserError(`DB_PORT in ${file} is "${port}", not a port number; e.g. DB_PORT=${DEFAULT_PORT[engine]}`);
  return checkConnection(
    {
      engine,
      host: env.get('DB_SOCKET') || env.get('DB_HOST') || '127.0.0.1',
      port: port ? Number(port) : DEFAULT_PORT[engine],
      database: env.get('DB_DATABASE') ?? '',
      user: env.get('DB_USERNAME') ?? '',
      password: env.get('DB_PASSWORD') || undefined,
    },
    file,
  );
}

/** Refuses a connection whose parts could be read as options or connection strings by the client tools. */
function checkConnection(connection: Connection, source: string): Connection {
  const { database, user, host, port } = connection;
  const bad = (what: string, fix: string) => new ArgumentError(argumentOf(source), `${source}: ${what}; ${fix}`);
  if (!database) throw bad('names no database', `write the database name, e.g. ${URL_EXAMPLE}`);
  if (!user) throw bad('names no user', `write the user who may dump it, e.g. ${URL_EXAMPLE}`);
  // pg_dump reads a database "name" holding `=` or a URI as a whole connection string; `-…` would be an option.
  for (const [what, value] of [
    ['the database name', database],
    ['the user name', user],
    ['the host', host],
  ] as const) {
    if (/^-|[\0-\x1f=]|:\/\//.test(value) || value.length > 255)
      throw bad(`${what} "${value.slice(0, 64)}" is not a plain name`, 'use letters, digits, _ . - (no "=", no URL)');
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${port} is out of range`, 'use 1 to 65535');
  // A credential file holds one password per line; its content is never quoted.
  if (/[\0\r\n]/.test(connection.password ?? ''))
    throw bad('the password holds a line break', 'use a password of one line');
  return connection;
}

/** `engine://user@host:port/database`, for logs and reports (never the password). */
export function describeConnection(connection: Connection): string {
  const where = connection.host.startsWith('/') ? connection.host : `${connection.host}:${connection.port}`;
  const ssl = connection.sslMode ? `?sslmode=${connection.sslMode}` : '';
  return `${connection.engine}://${connection.user}@${where}/${connection.database}${ssl}`;
}

/**
 * The credential file the host writes (0600, in a private temp dir) so that the password never is an argument:
 * a `.pgpass` line for PGPASSFILE, or a `[client]` option file for mysql's `--defaults-extra-file`.
 */
export function credentialFile(connection: Connection): string {
  const password = connection.password ?? '';
  if (connection.engine === 'postgres') {
    const field = (text: string) => text.replace(/[\\:]/g, '\\$&');
    return `*:*:*:${field(connection.user)}:${field(password)}\n`;
  }
  const quoted = (text: string) => `"${text.replace(/[\\"]/g, '\\$&')}"`;
  const where = connection.host.startsWith('/')
    ? [`socket=${quoted(connection.host)}`]
    : [`host=${quoted(connection.host)}`, `port=${connection.port}`, 'protocol=TCP'];
  return ['[client]', `user=${quoted(connection.user)}`, `password=${quoted(password)}`, ...where, ''].join('\n');
}
