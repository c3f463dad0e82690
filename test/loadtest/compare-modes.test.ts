/** What each --compare mode starts, and that every mode gets the same total kernel threads. */
import { describe, expect, it } from 'vitest';
import { upCommand } from '../../loadtest/generator/local-cluster.js';
import { parseServeArgs } from '../../loadtest/generator/options.js';

describe('--compare modes', () => {
  it('unified and disagg are one tandem up process with all the threads', () => {
    expect(upCommand('unified', 2, ['--model', 'm'])).toEqual({ args: ['up', '--mode', 'unified', '--port', '0', '--model', 'm'], threadsPerProcess: 2 });
    expect(upCommand('disagg', 2, [])).toEqual({ args: ['up', '--mode', 'disagg', '--port', '0'], threadsPerProcess: 2 });
  });

  it('cluster splits the threads between a prefill and a decode worker process, under its own cluster name', () => {
    const c = upCommand('cluster', 4, ['--model', 'm']);
    expect(c.threadsPerProcess).toBe(2);
    expect(c.args.slice(0, 6)).toEqual(['up', '--cluster', '--prefill-text', '1', '--decode-text', '1']);
    expect(c.args[c.args.indexOf('--cluster-name') + 1]).toMatch(/^bench-\d+-/);
    expect(c.args.slice(-2)).toEqual(['--model', 'm']);
    expect(upCommand('cluster', undefined, []).threadsPerProcess).toBeUndefined();
  });

  it('refuses unknown modes and a missing or double target', () => {
    expect(() => parseServeArgs(['--compare', 'unified,split'])).toThrow(/modes are unified, disagg, cluster/);
    expect(() => parseServeArgs([])).toThrow(/exactly one of --url/);
    expect(() => parseServeArgs(['--url', 'http://x/v1', '--compare', 'unified'])).toThrow(/exactly one of --url/);
    expect(() => parseServeArgs(['--url', 'http://x/v1', '--prompt-len', 'fixed:0'])).toThrow(/--prompt-len: fixed length must be an integer >= 1/);
    expect(parseServeArgs(['--url', 'http://x/v1/', '--rate', 'inf'])).toMatchObject({ url: 'http://x/v1', rate: Infinity, burstiness: 1, ignoreEos: true, slo: { ttftMs: 2000, tpotMs: 100 } });
  });
});
