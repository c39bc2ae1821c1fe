/**
 * egress-sentinel's DNS forwarder (block mode, dns-policy: allowed-names-only) against the original resolver, from
 * inside the runner's network namespace: a real nsd (test/support/nsd.ts) is the runner's resolver, and the built
 * dist/egress-sentinel/index.js runs its main step there, as the runner would. Each lookup is one A query over UDP,
 * sent by a client asking either the forwarder or nsd directly (root may: the forwarder's own path), one after
 * another. Rounds are interleaved (forwarder, nsd, forwarder, nsd) so a busy neighbour slows both alike.
 * - cached: 1,000 lookups of an allowed name the forwarder has answered before (in its cache; its addresses already
 *   in the sets): what it adds per lookup (target < 1 ms) and the ratio of the totals (target < 2×).
 * - first: 1,000 lookups of distinct allowed names, each a new address (upstream, then an nft transaction before the
 *   answer is given): the ratio, for the record.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createLab, labUnavailable } from '../test/support/netns.js';
import { nsdUnavailable, startNsd } from '../test/support/nsd.js';
import { repoRoot } from '../test/support/paths.js';
import { Job } from '../test/egress/job.js';

const LOOKUPS = 1_000;
const ROUNDS = 4;
const zone = 'dg.test';
const upstream = '198.18.1.2';

const unavailable = labUnavailable() ?? nsdUnavailable();
if (unavailable) {
  console.log(`SKIPPED: ${unavailable}`);
  process.exit(0);
}

/** Looks each name up (A, over UDP) at the server, one after another; prints every lookup's time in ms. */
const CLIENT = `
const dgram = require('node:dgram');
const packet = require(${JSON.stringify(join(repoRoot, 'node_modules/dns-packet'))});
const [server, names] = [process.argv[1], JSON.parse(process.argv[2])];
const socket = dgram.createSocket('udp4');
(async () => {
  const times = [];
  for (const [index, name] of names.entries()) {
    const started = process.hrtime.bigint();
    await new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error('no answer for ' + name)), 3000);
      socket.once('message', (message) => {
        const answer = packet.decode(message);
        if (answer.rcode !== 'NOERROR' || !answer.answers.length) return fail(new Error(name + ': ' + answer.rcode));
        clearTimeout(timer);
        done();
      });
      socket.send(packet.encode({ type: 'query', id: index & 0xffff, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), 53, server);
    });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  socket.close();
  console.log(JSON.stringify(times));
})().catch((error) => { console.error(error.message); process.exit(1); });
`;

const lab = createLab('q');
const names = Array.from({ length: 2 * LOOKUPS }, (_, i) => `n${i}.allowed.${zone}`);
const records = [
  `api.allowed IN A 198.18.2.2`,
  ...names.map((name, i) => `${name.split('.')[0]}.allowed IN A 10.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`),
].join('\n');
const nsd = await startNsd(lab.database, upstream, zone, records);
const job = new Job(lab.runner, { 'allowed-endpoints': `*.allowed.${zone}:443`, mode: 'block' });
try {
  await job.start();
  const forwarder = /^nameserver (\S+)/m.exec(lab.exec(lab.runner, ['cat', '/etc/resolv.conf']))![1]!;
  const lookups = (server: string, list: string[]): number[] => {
    const result = spawnSync(
      'ip',
      ['netns', 'exec', lab.runner, process.execPath, '-e', CLIENT, server, JSON.stringify(list)],
      { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
    );
    if (result.status !== 0) throw new Error(`lookups at ${server} failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as number[];
  };
  const quantile = (times: number[], q: number) => [...times].sort((a, b) => a - b)[Math.floor(times.length * q)]!;
  const median = (times: number[]) => quantile(times, 0.5);
  const sum = (times: number[]) => times.reduce((total, time) => total + time, 0);
  const measure = (list: (round: number) => string[]) => {
    const times = { forwarder: [] as number[], upstream: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      times.forwarder.push(...lookups(forwarder, list(round)));
      times.upstream.push(...lookups(upstream, list(round)));
    }
    return times;
  };
  lookups(forwarder, [`api.allowed.${zone}`]); // now in the forwarder's cache
  const perRound = LOOKUPS / ROUNDS;
  const cached = measure(() => Array.from({ length: perRound }, () => `api.allowed.${zone}`));
  // Distinct names, each asked of the forwarder for the first time (nsd gets the same names after it).
  const first = measure((round) => names.slice(round * perRound, (round + 1) * perRound));
  for (const [label, times] of Object.entries({ cached, first })) {
    const added = median(times.forwarder) - median(times.upstream);
    console.log(
      `${label}: ${LOOKUPS} lookups through the forwarder ${sum(times.forwarder).toFixed(0)} ms (median ${median(times.forwarder).toFixed(3)} ms, p99 ${quantile(times.forwarder, 0.99).toFixed(3)} ms), ` +
        `nsd directly ${sum(times.upstream).toFixed(0)} ms (median ${median(times.upstream).toFixed(3)} ms, p99 ${quantile(times.upstream, 0.99).toFixed(3)} ms): ` +
        `adds ${added.toFixed(3)} ms a lookup, ratio ${(sum(times.forwarder) / sum(times.upstream)).toFixed(2)}×`,
    );
  }
  const addedCached = median(cached.forwarder) - median(cached.upstream);
  const ratio = sum(cached.forwarder) / sum(cached.upstream);
  console.log(
    `targets (cached): adds < 1 ms ${addedCached < 1 ? 'met' : 'MISSED'}, ratio < 2× ${ratio < 2 ? 'met' : 'MISSED'}`,
  );
  await job.post();
} finally {
  job.cleanup();
  nsd.stop();
  lab.destroy();
}
