import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { packBundle } from '#core/bundle/index.js';
import { packBundleInputs, toConfig } from './inputs.js';

const count = () => outputValue().regex(/^\d+$/);

export const action = defineAction({
  name: 'pack-bundle',
  stage: 'pack',
  inputs: packBundleInputs,
  argumentInputs: { dir: 'path', name: 'name' },
  outputs: () =>
    z
      .object({
        'bundle-path': outputValue(),
        'checksum-path': outputValue(),
        sha256: outputValue().regex(/^[0-9a-f]{64}$/),
        size: count(),
        files: count(),
      })
      .strict(),
  async main(inputs, context) {
    const { workspace, tempDir } = context;
    const config = await toConfig(inputs, { workspace, sha: context.github.sha, tempDir });
    const started = context.now();
    context.logger.info(
      `Packing ${config.dir} as ${config.name}.tar.gz (mtime ${config.mtime.toISOString()} from ${config.mtimeSource})`,
    );
    const packed = await packBundle(config);
    const { first, count } = packed.excluded;
    if (count > 0)
      context.logger.info(
        `Left out by exclude: ${first.join(', ')}${count > first.length ? `, … ${count - first.length} more` : ''}`,
      );
    const detail = `${packed.files} entries, ${packed.size} bytes, SHA-256 ${packed.sha256}`;
    return {
      title: 'Bundle',
      results: [{ name: 'Pack', status: 'pass', detail, durationMs: context.now() - started }],
      facts: [
        ['Bundle', packed.bundlePath],
        ['Checksum file', packed.checksumPath],
        ['SHA-256', packed.sha256],
        ['Entries', String(packed.files)],
        ['Size', `${packed.size} bytes`],
        ['Mtime', `${config.mtime.toISOString()} (${config.mtimeSource})`],
        ...(count > 0 ? [['Excluded', `${count} path(s)`] as const] : []),
      ],
      outputs: {
        'bundle-path': packed.bundlePath,
        'checksum-path': packed.checksumPath,
        sha256: packed.sha256,
        size: String(packed.size),
        files: String(packed.files),
      },
      report: {
        sha: config.commit,
        bundleSha256: packed.sha256,
        details: { name: config.name, files: packed.files, size: packed.size, mtime: config.mtime.toISOString() },
      },
      verdict: `${packed.bundlePath}: ${detail}`,
    };
  },
});

export const run = action.run;
