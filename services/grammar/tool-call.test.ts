import { describe, expect, it } from 'vitest';
import { JSON_SCHEMA_FIXTURES } from '../../loadtest/structured/json-schemas.js';
import { ApiError } from '../common/errors/index.js';
import { parseToolCalls } from '../text/tool-call-parser.js';
import { compileGrammar } from './compile.js';
import { MAX_PARALLEL_TOOL_CALLS, toolCallGrammar, type ToolSpec } from './tool-call.js';

const WEATHER = JSON_SCHEMA_FIXTURES.find((f) => f.name.startsWith('weather'))!;
const TREE = JSON_SCHEMA_FIXTURES.find((f) => f.name.startsWith('recursive tree'))!;

const TOOLS: ToolSpec[] = [
  { name: 'get_weather', parameters: WEATHER.schema },
  { name: 'walk_tree', parameters: TREE.schema },
  { name: 'ping' },
  { name: 'anything "quoted"', parameters: {} },
];

/** A call as the chat template renders it (compact arguments). */
const call = (name: string, args: unknown) => `<tool_call>{"name": ${JSON.stringify(name)}, "arguments": ${JSON.stringify(args)}}</tool_call>`;

describe('toolCallGrammar', () => {
  const single = compileGrammar(toolCallGrammar(TOOLS, { parallel: false }));
  const parallel = compileGrammar(toolCallGrammar(TOOLS, { parallel: true }));

  it('accepts one call to any tool with valid arguments, and the parser reads it back', () => {
    const cases: Array<[string, unknown]> = [
      ...WEATHER.valid.map((v) => ['get_weather', v] as [string, unknown]),
      ...TREE.valid.map((v) => ['walk_tree', v] as [string, unknown]),
      ['ping', {}],
      ['ping', { any: ['thing', 1] }],
      ['anything "quoted"', { x: null }],
    ];
    for (const [name, args] of cases) {
      const text = call(name, args);
      expect(single.acceptsText(text), text).toBe(true);
      const parsed = parseToolCalls(text);
      expect(parsed.content).toBe('');
      expect(parsed.calls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([[name, args]]);
    }
  });

  it('refuses invalid arguments, unknown tools, non-object arguments and any text around the call', () => {
    for (const args of WEATHER.invalid) expect(single.acceptsText(call('get_weather', args))).toBe(false);
    for (const args of TREE.invalid) expect(single.acceptsText(call('walk_tree', args))).toBe(false);
    const ok = call('ping', {});
    for (const text of [
      call('get_time', {}),
      call('anything "quoted"', []),
      call('anything "quoted"', 'x'),
      call('ping', null),
      `Sure! ${ok}`,
      `${ok}\n`,
      ok.replace('{"name": ', '{"name":'),
      ok.replace('<tool_call>{', '<tool_call>\n{'),
      `<tool_call>{"arguments": {}, "name": "ping"}</tool_call>`,
    ]) {
      expect(single.acceptsText(text), text).toBe(false);
    }
  });

  it('writes exactly one call without parallel calls, 1..MAX with them, "\\n" between', () => {
    const calls = (n: number) => Array.from({ length: n }, (_, i) => call(i % 2 ? 'ping' : 'get_weather', i % 2 ? {} : WEATHER.valid[0])).join('\n');
    expect(single.acceptsText(calls(2))).toBe(false);
    expect(single.acceptsText('')).toBe(false);
    expect(parallel.acceptsText('')).toBe(false);
    for (let n = 1; n <= MAX_PARALLEL_TOOL_CALLS; n++) expect(parallel.acceptsText(calls(n)), `${n} calls`).toBe(true);
    expect(parallel.acceptsText(calls(MAX_PARALLEL_TOOL_CALLS + 1))).toBe(false);
    expect(parallel.acceptsText(calls(2).replace('\n', ''))).toBe(false);
    const parsed = parseToolCalls(calls(3));
    expect(parsed.content).toBe('');
    expect(parsed.calls.map((c) => c.name)).toEqual(['get_weather', 'ping', 'get_weather']);
    expect(parsed.calls.map((c) => JSON.parse(c.arguments))).toEqual([WEATHER.valid[0], {}, WEATHER.valid[0]]);
  });

  it('accepts only objects as arguments even when the schema allows more', () => {
    const g = compileGrammar(
      toolCallGrammar(
        [
          { name: 'a', parameters: { anyOf: [{ type: 'string' }, { $ref: '#/$defs/o' }], $defs: { o: { type: 'object', properties: { k: { type: 'integer' } } } } } },
          { name: 'b', parameters: { enum: [1, { x: 1 }] } },
          { name: 'c', parameters: { type: ['object', 'null'], properties: { n: { $ref: '#' } } } },
        ],
        { parallel: false },
      ),
    );
    expect(g.acceptsText(call('a', { k: 1 }))).toBe(true);
    expect(g.acceptsText(call('a', 'k'))).toBe(false);
    expect(g.acceptsText(call('b', { x: 1 }))).toBe(true);
    expect(g.acceptsText(call('b', 1))).toBe(false);
    expect(g.acceptsText(call('c', { n: null }))).toBe(true);
    expect(g.acceptsText(call('c', { n: { n: {} } }))).toBe(true);
    expect(g.acceptsText(call('c', null))).toBe(false);
  });

  it("reports schema errors at the tool's parameters, or at the param it is given", () => {
    const refusal = (tools: ToolSpec[]) => {
      try {
        toolCallGrammar(tools, { parallel: true });
      } catch (e) {
        expect(e).toBeInstanceOf(ApiError);
        return [(e as ApiError).code, (e as ApiError).param];
      }
      throw new Error('compiled');
    };
    expect(refusal([{ name: 'ping' }, { name: 'x', parameters: { type: 'object', properties: { n: { type: 'number', minimum: 0 } } } }]))
      .toEqual(['unsupported_json_schema_keyword', 'tools[1].function.parameters.properties.n.minimum']);
    expect(refusal([{ name: 'x', parameters: { type: 'string' }, param: 'tools[3].function.parameters' }]))
      .toEqual(['invalid_json_schema', 'tools[3].function.parameters']);
    expect(refusal([{ name: 'ping' }, { name: 'x', parameters: { type: 'object', properties: { me: { $ref: '#' } }, required: ['me'] } }]))
      .toEqual(['invalid_json_schema', 'tools[1].function.parameters']);
  });

  it('keeps the rules of different tools apart', () => {
    const shared = { $ref: '#/$defs/v', $defs: { v: { type: 'object', properties: { v: { type: 'integer' } }, required: ['v'] } } };
    const other = { $ref: '#/$defs/v', $defs: { v: { type: 'object', properties: { v: { type: 'string' } }, required: ['v'] } } };
    const g = compileGrammar(toolCallGrammar([{ name: 'n', parameters: shared }, { name: 's', parameters: other }], { parallel: false }));
    expect([g.acceptsText(call('n', { v: 1 })), g.acceptsText(call('s', { v: '1' }))]).toEqual([true, true]);
    expect([g.acceptsText(call('n', { v: '1' })), g.acceptsText(call('s', { v: 1 }))]).toEqual([false, false]);
  });
});
