/**
 * Tokenizes a training corpus with a Tandem checkpoint's own tokenizer, for
 * train_tiny_ernie.py: the trained model must see exactly the ids Tandem produces for the same
 * text, so the tokenizer is Tandem's (loadTokenizer), not a Python reimplementation of it.
 *
 *   node dist/loadtest/quality/tokenize-text.js --model DIR < corpus.txt > corpus.u16
 *
 * stdin: UTF-8 text, documents separated by form feeds (\f). stdout: the ids as little-endian
 * uint16, each document followed by the tokenizer's EOS, so the model learns where a document
 * ends instead of reading one document straight into the next.
 */
import { loadTokenizer } from '../../services/text/load-tokenizer.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--model');
  const dir = i >= 0 ? process.argv[i + 1] : undefined;
  if (!dir) throw new Error('usage: tokenize-text --model DIR < text > ids.u16');
  const tok = await loadTokenizer(dir);
  // uint16 halves the file and Python reads it with one numpy call; refuse rather than wrap.
  if (tok.vocabSize > 65536) throw new Error(`vocabulary of ${tok.vocabSize} ids does not fit uint16`);
  if (tok.eosId < 0) throw new Error(`${dir}: the tokenizer defines no EOS token`);
  const docs = (await readStdin()).split('\f').filter((d) => d.trim().length > 0);
  const ids: number[] = [];
  for (const d of docs) {
    // Paragraph by paragraph keeps each encode call short. The generated vocabulary's only
    // pieces with a newline are "\n", "\n\n" and "\n\t", so cutting right after "\n\n"
    // gives the ids encoding the whole document would (the corpus never has "\n\n\n").
    for (const para of d.split(/(?<=\n\n)/)) {
      for (const t of tok.encode(para, { addSpecialTokens: false })) ids.push(t);
    }
    ids.push(tok.eosId);
  }
  const out = new Uint16Array(ids);
  process.stdout.write(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  process.stderr.write(`tokenize-text: ${docs.length} documents, ${ids.length} tokens\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`tokenize-text: ${(e as Error).message}\n`);
  process.exit(1);
});
