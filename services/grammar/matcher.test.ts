import { describe, expect, it } from 'vitest';
import { compileGrammar } from './compile.js';
import type { Grammar } from './grammar.js';
import { GrammarError } from './validate-grammar.js';

const VALUE: Grammar = {
  root: 'v',
  rules: {
    v: {
      k: 'alt',
      items: [
        { k: 'ref', rule: 'obj' },
        { k: 'string' },
        { k: 'number' },
        { k: 'lit', text: 'true' },
        { k: 'lit', text: 'null' },
        { k: 'seq', items: [{ k: 'lit', text: '[' }, { k: 'repeat', item: { k: 'ref', rule: 'v' }, min: 0, sep: { k: 'lit', text: ',' } }, { k: 'lit', text: ']' }] },
      ],
    },
    obj: { k: 'seq', items: [{ k: 'lit', text: '{' }, { k: 'repeat', min: 0, sep: { k: 'lit', text: ',' }, item: { k: 'seq', items: [{ k: 'string' }, { k: 'lit', text: ':' }, { k: 'ref', rule: 'v' }] } }, { k: 'lit', text: '}' }] },
  },
};

describe('grammar matcher', () => {
  const g = compileGrammar(VALUE);

  it('accepts exactly the compact sentences of a recursive grammar', () => {
    for (const t of ['{}', '{"a":1}', '[1,2,[3,{"x":"y\\n"}]]', '"héllo 🚀"', '-0.5e+10', 'true', '[]', '123456789012345', '"\\u00e9\\uFFFF"']) expect(g.acceptsText(t), t).toBe(true);
    for (const t of ['{', '{"a":}', '[1,]', '01', '"\x01"', '1234567890123456', ' {}', '{} ', '1e999', '"\\ud83d"', '"\\q"']) expect(g.acceptsText(t), t).toBe(false);
  });

  it('rejects malformed UTF-8 inside strings (overlong, surrogates, past U+10FFFF, truncated)', () => {
    const m = g.matcher;
    for (const bytes of [[0x22, 0xc0, 0x80, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xe2, 0x82, 0x22]]) {
      expect(m.walk(m.initial, bytes)?.accepting ?? false, bytes.join(',')).toBe(false);
    }
  });

  it('knows the shortest completion of every prefix', () => {
    expect(g.minLength).toBe(1);
    const m = g.matcher;
    expect(m.walk(m.initial, Buffer.from('{"ab":[tr'))!.dist).toBe('ue]}'.length);
    expect(m.walk(m.initial, Buffer.from('"x'))!.dist).toBe(1);
  });

  it('bounded repetitions and string lengths', () => {
    const s = compileGrammar({ root: 'r', rules: { r: { k: 'string', minLength: 2, maxLength: 3 } } });
    expect(['"a"', '"ab"', '"a\\nc"', '"abcd"', '"é🚀"'].map((t) => s.acceptsText(t))).toEqual([false, true, true, false, true]);
    const r = compileGrammar({ root: 'r', rules: { r: { k: 'repeat', item: { k: 'lit', text: 'a' }, min: 2, max: 4, sep: { k: 'lit', text: '-' } } } });
    expect(['a', 'a-a', 'a-a-a-a', 'a-a-a-a-a', 'aa'].map((t) => r.acceptsText(t))).toEqual([false, true, true, false, false]);
  });

  it('"without": any text in which the pattern never occurs', () => {
    const w = compileGrammar({ root: 'r', rules: { r: { k: 'without', text: '<tool_call>' } } });
    expect(w.acceptsText('hello <tool_cal x')).toBe(true);
    expect(w.acceptsText('a<tool_call>b')).toBe(false);
    expect(w.acceptsText('<<tool_call>')).toBe(false);
    expect(w.acceptsText('')).toBe(true);
  });

  it('refuses malformed grammars and grammars without a finite sentence', () => {
    expect(() => compileGrammar({ root: 'x', rules: {} })).toThrow(GrammarError);
    expect(() => compileGrammar({ root: 'a', rules: { a: { k: 'ref', rule: 'b' } } })).toThrow(/unknown rule/);
    expect(() => compileGrammar({ root: 'a', rules: { a: { k: 'seq', items: [{ k: 'lit', text: '[' }, { k: 'ref', rule: 'a' }, { k: 'lit', text: ']' }] } } })).toThrow(/no finite sentence/);
    expect(() => compileGrammar({ root: 'a', rules: { a: { k: 'repeat', item: { k: 'lit', text: 'x' }, min: 0, max: 1000 } } })).toThrow(/repeat/);
    expect(() => compileGrammar({ root: 'a', rules: { a: { k: 'bytes', ranges: [[5, 300]] } } } as never)).toThrow(/byte range/);
  });
});
