/** The seeds' laravel pre-switch check as one shell script: the reference the gates benchmarks compare against. */
export const laravelSeedScript = [
  'set -e',
  'test -f artisan; test -f composer.json; test -f public/index.php; test -f vendor/autoload.php; test -f bootstrap/app.php',
  'test -d bootstrap/cache -a -w bootstrap/cache; test -d storage -a -w storage; test -d config; test -d routes',
  `php -r "require 'vendor/autoload.php'; echo 'autoload-ok';" | grep -q autoload-ok`,
  'php artisan --version | grep -q "Laravel Framework"',
].join('\n');
