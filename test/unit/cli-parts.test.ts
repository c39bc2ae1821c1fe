import { describe, expect, it } from '@jest/globals';
import { parseArgs } from '#cli/args.js';
import { evaluateDefault, inputVariable } from '#cli/metadata.js';
import { CommandRenderer, parseFileCommands } from '#cli/workflow-commands.js';

describe('CLI pieces', () => {
  it('joins a repeated input into lines and accepts --name=value', () => {
    const args = parseArgs(['health-retry', '--urls', 'a', '--urls=b', '--attempts', '3', '--debug']);
    expect(args).toEqual({ action: 'health-retry', inputs: new Map([['urls', 'a\nb'], ['attempts', '3']]), debug: true, help: false });
    expect(() => parseArgs(['x', '--urls'])).toThrow('--urls needs a value');
  });

  it('names INPUT_ variables as the runner does and evaluates github.* defaults from the environment', () => {
    expect(inputVariable('bearer-token')).toBe('INPUT_BEARER-TOKEN');
    expect(evaluateDefault('${{ github.token }}', { GITHUB_TOKEN: 'ghs_x' })).toBe('ghs_x');
    expect(evaluateDefault('${{ github.sha }}', {})).toBe('');
  });

  it('renders workflow commands and masks registered values in later lines', () => {
    const renderer = new CommandRenderer(false);
    expect(renderer.render('::add-mask::hunter22')).toBeUndefined();
    expect(renderer.render('token is hunter22')).toBe('token is ***');
    expect(renderer.render('::error title=health-retry::down%0Anext')).toBe('Error (health-retry): down\nnext');
    expect(renderer.render('::debug::hidden')).toBeUndefined();
    expect(new CommandRenderer(true).render('::debug::shown')).toBe('##[debug]shown');
  });

  it('reads GITHUB_OUTPUT files in both forms', () => {
    const text = 'healthy<<ghadelimiter_1\ntrue\nghadelimiter_1\nreport=/tmp/r.json\nmulti<<EOF\na\nb\nEOF\n';
    expect(parseFileCommands(text)).toEqual(new Map([['healthy', 'true'], ['report', '/tmp/r.json'], ['multi', 'a\nb']]));
  });
});
