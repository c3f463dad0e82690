/**
 * Synthetic prompt text of a target token length. Random words (so no two prompts share a prefix
 * beyond the chat template, and the prefix cache cannot make TTFT look better than it is). With
 * the model's tokenizer at hand the text is cut to exactly N tokens; without one it is N words,
 * which common English words make roughly N tokens — the server's usage.prompt_tokens reports
 * the real count either way.
 */
import type { Tokenizer } from '../../services/text/tokenizer.js';
import type { Uniform } from './random.js';

const WORDS = (
  'the a of and to in is that it for on with as was he at by this be from or have an they which one you were her all she there ' +
  'would their we him been has when who will more no if out so said what up its about into than them can only other new some ' +
  'time could these two may then do first any my now such like our over man me even most made after also did many before must ' +
  'through back years where much your way well down should because each just those people how too little state good very make ' +
  'world still own see men work long get here between both life being under never day same another know while last might us ' +
  'great old year off come since against go came right used take three sea light keeper fog ship stairs evening weather system ' +
  'measure number request token model server cluster prompt answer river mountain garden window morning letter question story'
).split(' ');

export function randomWords(u: Uniform, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(u() * WORDS.length)]!);
  return out.join(' ');
}

/** Text of `tokens` tokens under `tokenizer` (exactly, up to re-encoding drift), else `tokens` words. */
export function promptText(u: Uniform, tokens: number, tokenizer?: Tokenizer): string {
  if (!tokenizer) return randomWords(u, tokens);
  let words = tokens;
  for (;;) {
    const text = randomWords(u, words);
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    if (ids.length >= tokens) return tokenizer.decode(ids.slice(0, tokens)).trim();
    words = Math.ceil(words * 1.5) + 1;
  }
}
