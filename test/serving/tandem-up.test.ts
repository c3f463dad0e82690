/**
 * `tandem up` with no model flag: needs nothing but Node. It generates the tiny checkpoint once
 * (cached under TANDEM_HOME), serves, prints the URL, model name and a curl line, and stops on
 * SIGINT.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startTandemUp } from '../fixtures/cluster.js';

describe('tandem up (embedded defaults)', () => {
  it('generates the tiny model once, serves it, and shuts down cleanly on Ctrl-C', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tandem-home-'));
    const first = await startTandemUp([], { TANDEM_HOME: home });
    expect(first.output()).toMatch(/generating ernie4_5_vl_moe tiny checkpoint/);
    expect(first.output()).toMatch(/serving ernie-4\.5-vl-tiny at http:\/\/127\.0\.0\.1:\d+\/v1/);
    expect(first.output()).toMatch(/curl http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions .*"model":"ernie-4\.5-vl-tiny"/);
    const client = new OpenAI({ baseURL: first.baseURL, apiKey: 'x' });
    const r = await client.chat.completions.create({ model: 'ernie-4.5-vl-tiny', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 8 });
    expect(r.choices[0]!.message.role).toBe('assistant');
    // The default checkpoint takes images: an image request goes through the E/P/D path.
    const png = await sharp({ create: { width: 56, height: 56, channels: 3, background: { r: 9, g: 99, b: 199 } } }).png().toBuffer();
    const text = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const withImage = await client.chat.completions.create({
      model: 'ernie-4.5-vl-tiny',
      messages: [{ role: 'user', content: [{ type: 'text', text }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } }] }],
      max_tokens: 4,
    });
    expect(withImage.usage!.prompt_tokens).toBeGreaterThan(30 + 4);
    expect(withImage.choices[0]!.finish_reason).toMatch(/^(stop|length)$/);
    await first.stop();
    expect(first.proc.exitCode).toBe(0);
    expect(first.output()).toMatch(/SIGINT: shutting down/);

    const second = await startTandemUp([], { TANDEM_HOME: home });
    expect(second.output()).not.toMatch(/generating/);
    await second.stop();
  });

  it('reads settings from the environment and a config file, flags first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-cfg-'));
    const cfg = join(dir, 'tandem.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(cfg, JSON.stringify({ servedModelName: 'from-file', apiKey: 'file-key' }));
    const c = await startTandemUp(['--config', cfg], { TANDEM_HOME: mkdtempSync(join(tmpdir(), 'tandem-home-')), TANDEM_SERVED_MODEL_NAME: 'from-env' });
    expect(c.output()).toMatch(/serving from-env at/);
    expect(c.output()).toMatch(/Authorization: Bearer file-key/);
    const models = await new OpenAI({ baseURL: c.baseURL, apiKey: 'file-key' }).models.list();
    expect(models.data[0]!.id).toBe('from-env');
    await c.stop();
  });

  it('explains a bad flag and exits with code 2', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'tandem.js'), 'up', '--port', 'eighty'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--port must be an integer/);
  });
});
