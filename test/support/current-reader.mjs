// Resolves <root>/current/marker in a tight loop until <stop> exists, counting reads that fail (current
// missing or dangling) and the distinct contents seen; prints `ready` once, then one JSON line at the end.
// Used by the atomicity test and the release-switch benchmark: a web server resolving `current` does the same.
import { existsSync, readFileSync } from 'node:fs';

const [root, stop] = process.argv.slice(2);
const marker = `${root}/current/marker`;
let reads = 0;
let failures = 0;
const seen = new Set();
const errors = new Set();
process.stdout.write('ready\n');
for (;;) {
  for (let i = 0; i < 200; i++) {
    try {
      seen.add(readFileSync(marker, 'utf8'));
      reads++;
    } catch (error) {
      failures++;
      errors.add(error.code);
    }
  }
  if (existsSync(stop)) break;
}
process.stdout.write(`${JSON.stringify({ reads, failures, seen: [...seen].sort(), errors: [...errors] })}\n`);
