import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateTokenizer } from '../../tools/tokenizer/generate-tokenizer.js';
import { loadTokenizer, loadTokenizerBundle } from './load-tokenizer.js';
import { TokenizerError } from './tokenizer.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-load-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function editConfig(edit: (cfg: Record<string, unknown>) => void): Promise<void> {
  const path = join(dir, 'tokenizer_config.json');
  const cfg = JSON.parse(await readFile(path, 'utf8'));
  edit(cfg);
  await writeFile(path, JSON.stringify(cfg));
}

describe('loadTokenizer', () => {
  it('names the directory and the files it looked for when there is no tokenizer', async () => {
    const err = await loadTokenizer(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).code).toBe('tokenizer_not_found');
    expect((err as Error).message).toContain(dir);
    expect((err as Error).message).toContain('tokenizer.model');
    expect((err as Error).message).toContain('tokenizer.json');
  });

  it('says so when the directory does not exist', async () => {
    await expect(loadTokenizer(join(dir, 'missing'))).rejects.toThrow(/does not exist/);
  });

  it('prefers tokenizer.model when both files are present', async () => {
    await generateTokenizer(dir, { vocabSize: 1024 });
    const bundle = await loadTokenizerBundle(dir);
    expect(bundle.format).toBe('sentencepiece');
    expect(bundle.config.bosToken).toBe('<s>');
    expect(bundle.config.chatTemplate).toContain('Assistant: ');
  });

  it('reports a corrupt tokenizer file as invalid', async () => {
    await writeFile(join(dir, 'tokenizer.model'), Buffer.from([0x0b, 0x01]));
    await expect(loadTokenizer(dir)).rejects.toMatchObject({ code: 'tokenizer_invalid' });
    await rm(join(dir, 'tokenizer.model'));
    await writeFile(join(dir, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(dir)).rejects.toMatchObject({ code: 'tokenizer_invalid' });
  });

  it('adds tokens from added_tokens_decoder beyond the model vocabulary', async () => {
    const info = await generateTokenizer(dir, { vocabSize: 1024, formats: ['sentencepiece'] });
    const id = info.vocabSize + 10;
    await editConfig((cfg) => {
      (cfg.added_tokens_decoder as Record<string, unknown>)[String(id)] = { content: '<|LOC_0|>', special: true };
    });
    const tok = await loadTokenizer(dir);
    expect(tok.vocabSize).toBe(id + 1);
    expect(tok.encode('at <|LOC_0|> now')).toContain(id);
    expect(tok.decode(tok.encode('at <|LOC_0|> now'))).toBe('at <|LOC_0|> now');
    expect(tok.decode([id], { skipSpecialTokens: true })).toBe('');
  });

  it('lets tokenizer_config decide BOS framing and special tokens', async () => {
    await generateTokenizer(dir, { vocabSize: 1024, formats: ['json'] });
    await editConfig((cfg) => {
      cfg.add_bos_token = true;
      cfg.bos_token = { content: '<|begin_of_sentence|>', lstrip: false };
    });
    const tok = await loadTokenizer(dir);
    expect(tok.bosId).toBe(3);
    expect(tok.encode('hi')[0]).toBe(3);
    expect(tok.encode('hi', { addSpecialTokens: false })[0]).not.toBe(3);
  });

  it('falls back to special_tokens_map.json and prefers chat_template.jinja', async () => {
    await generateTokenizer(dir, { vocabSize: 1024, formats: ['sentencepiece'] });
    await editConfig((cfg) => {
      delete cfg.eos_token;
    });
    await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify({ eos_token: { content: '<|end_of_sentence|>' } }));
    await writeFile(join(dir, 'chat_template.jinja'), '{{ messages[0].content }}!');
    const bundle = await loadTokenizerBundle(dir);
    expect(bundle.tokenizer.eosId).toBe(4);
    expect(bundle.chatTemplate!.render({ messages: [{ role: 'user', content: 'hey' }], addGenerationPrompt: true })).toBe('hey!');
  });
});
