import type { Target } from '#core/hosts/target.js';
import { shellQuote } from '#core/hosts/target.js';

/**
 * Release trees for gate tests, made through the Target itself (so they exist wherever the target is:
 * this machine or the sshd host). Files are given as path → content; a path ending in `/` is a directory.
 */
export async function makeTree(target: Target, files: Record<string, string>): Promise<string> {
  const made = await target.run('mktemp -d "${TMPDIR:-/tmp}/gates-release.XXXXXX"');
  if (made.exitCode !== 0) throw new Error(`mktemp failed on ${target.description}: ${made.stderr}`);
  const dir = made.stdout.trim();
  await writeTree(target, dir, files);
  return dir;
}

export async function writeTree(target: Target, dir: string, files: Record<string, string>): Promise<void> {
  const script = ['set -e', `cd ${shellQuote(dir)}`, 'chmod 755 .'];
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) {
      script.push(`mkdir -p ${shellQuote(path)}`);
    } else {
      script.push(
        `mkdir -p "$(dirname ${shellQuote(path)})"`,
        `printf '%s' ${shellQuote(content)} > ${shellQuote(path)}`,
      );
    }
  }
  const result = await target.run(script.join('\n'));
  if (result.exitCode !== 0)
    throw new Error(`writing the release tree failed on ${target.description}: ${result.stderr}`);
}

export async function removeTree(target: Target, dir: string): Promise<void> {
  if (!/gates-release\.[A-Za-z0-9]+$/.test(dir)) throw new Error(`refusing to remove ${dir}`);
  await target.run(`chmod -R u+w ${shellQuote(dir)} 2>/dev/null; rm -rf ${shellQuote(dir)}`);
}

/** A tree shaped like a deployable Laravel release: what the laravel preset checks, with a real (tiny) artisan. */
export const laravelRelease = (): Record<string, string> => ({
  artisan:
    "#!/usr/bin/env php\n<?php\nrequire __DIR__.'/vendor/autoload.php';\nif (($argv[1] ?? '') === '--version') { echo \"Laravel Framework 11.31.0\\n\"; exit(0); }\nfwrite(STDERR, \"unknown command\\n\");\nexit(1);\n",
  'composer.json': '{"name":"acme/api","require":{"php":"^8.2","laravel/framework":"^11.0"}}\n',
  'public/index.php': "<?php\nrequire __DIR__.'/../vendor/autoload.php';\necho 'ok';\n",
  'vendor/autoload.php':
    '<?php\n// Composer autoloader stand-in: registers nothing, loads cleanly.\nspl_autoload_register(function (string $class): void {});\nreturn true;\n',
  'bootstrap/app.php': '<?php\nreturn new stdClass();\n',
  'bootstrap/cache/': '',
  'storage/framework/views/': '',
  'storage/logs/': '',
  'config/app.php': "<?php\nreturn ['name' => 'acme'];\n",
  'routes/web.php': '<?php\n',
});
