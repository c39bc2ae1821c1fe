import type { Connection } from './connection.js';
import { describeConnection } from './connection.js';
import { oneLine } from '../text.js';

/** What a client tool said, turned into what to fix; the tool's own words follow (masked by the caller). */
export function clientProblem(stderr: string, connection: Connection, where: string): string {
  const server = describeConnection(connection);
  const said = oneLine(stderr.trim() || 'no message', 300);
  const secretSource = 'the password in database-url (or DB_PASSWORD in env-file)';
  // MySQL/MariaDB error 1044 ("Access denied for user 'app'@'host' to database 'x'"): the login succeeded, the
  // database is missing or not granted to the user. Told before the refused-login case, whose words it shares.
  if (/Access denied for user .* to database/i.test(stderr))
    return `"${connection.user}" logged in but may not use the database "${connection.database}" on ${server} (${said}); the database does not exist or the user has no grant on it: check the database name, or GRANT ALL ON \`${connection.database}\`.* TO the user`;
  if (/password authentication failed|Access denied for user|no password supplied|authentication failed/i.test(stderr))
    return `the server refused the login of "${connection.user}" (${said}); check ${secretSource} and that the user may connect from ${where}`;
  if (/database ".*" does not exist|Unknown database/i.test(stderr))
    return `the database "${connection.database}" does not exist on ${server} (${said}); check the database name`;
  if (/SSL was required|does not support SSL|SSL error|SSL SYSCALL|certificate verify/i.test(stderr))
    return `the TLS connection ${connection.sslMode ? `sslmode=${connection.sslMode} asks for` : 'the client asked for'} could not be made with ${server} (${said}); enable TLS on the server (or give its CA for verify-ca/verify-full); nothing was read unencrypted`;
  if (/server version mismatch/i.test(stderr))
    return `the client on ${where} is older than the server (${said}); install the client of the server's major version (e.g. postgresql-client-16)`;
  if (
    /could not connect|Connection refused|Can't connect|could not translate host name|Unknown (MySQL|MariaDB) server host|timeout expired|No route to host|Name or service not known/i.test(
      stderr,
    )
  )
    return `cannot reach ${server} from ${where} (${said}); check the host and port, that the server runs and accepts connections from there`;
  if (/permission denied|command denied|LOCK TABLES|PROCESS privilege/i.test(stderr))
    return `"${connection.user}" lacks a privilege the dump needs (${said}); grant it, or back up as the database's owner`;
  return said;
}

/** The fix for a client tool missing on the host. */
export function missingToolFix(tool: string): string {
  if (/pg_/.test(tool)) return 'install the PostgreSQL client there (Debian/Ubuntu: apt-get install postgresql-client)';
  if (/mysql|mariadb/.test(tool))
    return 'install the MariaDB/MySQL client there (Debian/Ubuntu: apt-get install mariadb-client)';
  return `install ${tool} there (coreutils, tar and gzip are needed)`;
}
