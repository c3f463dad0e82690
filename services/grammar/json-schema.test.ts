import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { JSON_SCHEMA_FIXTURES } from '../../loadtest/structured/json-schemas.js';
import { ApiError } from '../common/errors/index.js';
import { compileGrammar } from './compile.js';
import { GRAMMAR_LIMITS, type Grammar } from './grammar.js';
import { jsonSchemaGrammar } from './json-schema.js';
import { jsonObjectGrammar, jsonValueGrammar } from './json-value.js';

/** The ApiError thrown by compiling `schema`, as [code, param, message]. */
function refusal(schema: unknown, path?: string): [string, string | undefined, string] {
  try {
    jsonSchemaGrammar(schema, path === undefined ? {} : { path });
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    return [e.code, e.param, e.message];
  }
  throw new Error(`compiled: ${JSON.stringify(schema).slice(0, 200)}`);
}

/** `{"type": "object"}` with no `properties`: any key order is valid. */
const isFreeFormObject = (s: Record<string, unknown>) => s.type === 'object' && !('properties' in s);

const accepts = (g: Grammar, text: string) => compileGrammar(g).acceptsText(text);

describe('the fixtures', () => {
  const ajv = new Ajv({ allowUnionTypes: true });
  it.each(JSON_SCHEMA_FIXTURES.map((f) => [f.name, f] as const))('%s: agree with ajv', (_, f) => {
    const validate = ajv.compile(f.schema);
    expect(f.valid.length).toBeGreaterThanOrEqual(2);
    expect(f.invalid.length).toBeGreaterThanOrEqual(2);
    for (const v of f.valid) expect(validate(v), JSON.stringify(v)).toBe(true);
    for (const v of f.invalid) expect(validate(v), JSON.stringify(v)).toBe(false);
  });
  it('are at least 20', () => expect(JSON_SCHEMA_FIXTURES.length).toBeGreaterThanOrEqual(20));
});

describe('jsonSchemaGrammar accepts exactly the compact valid texts', () => {
  it.each(JSON_SCHEMA_FIXTURES.map((f) => [f.name, f] as const))('%s', (_, f) => {
    const g = compileGrammar(jsonSchemaGrammar(f.schema));
    for (const v of f.valid) expect(g.acceptsText(JSON.stringify(v)), JSON.stringify(v)).toBe(true);
    for (const v of f.invalid) expect(g.acceptsText(JSON.stringify(v)), JSON.stringify(v)).toBe(false);
    for (const v of f.valid) {
      const spaced = JSON.stringify(v, null, 1);
      if (spaced !== JSON.stringify(v)) expect(g.acceptsText(spaced), spaced).toBe(false);
      expect(g.acceptsText(` ${JSON.stringify(v)}`)).toBe(false);
      expect(g.acceptsText(`${JSON.stringify(v)}\n`)).toBe(false);
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length >= 2 && !isFreeFormObject(f.schema)) {
        const reversed = Object.fromEntries(Object.entries(v).reverse());
        expect(g.acceptsText(JSON.stringify(reversed)), JSON.stringify(reversed)).toBe(false);
      }
    }
  });

  it('writes every combination of optional properties with the right commas', () => {
    const names = ['a', 'b', 'c', 'd'];
    const schema = { type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'integer' }])), required: ['c'] };
    const g = compileGrammar(jsonSchemaGrammar(schema));
    for (let mask = 0; mask < 16; mask++) {
      const obj = Object.fromEntries(names.filter((_, i) => mask & (1 << i)).map((n) => [n, 1]));
      expect(g.acceptsText(JSON.stringify(obj)), JSON.stringify(obj)).toBe('c' in obj);
    }
    for (const bad of ['{,"c":1}', '{"c":1,}', '{"a":1,,"c":1}', '{"a":1"c":1}']) expect(g.acceptsText(bad), bad).toBe(false);
  });

  it('never writes keys beyond "properties", whatever additionalProperties says', () => {
    for (const additional of [true, false, { type: 'string' }, 'absent']) {
      const schema = { type: 'object', properties: { a: { type: 'integer' } }, ...(additional === 'absent' ? {} : { additionalProperties: additional }) };
      const g = jsonSchemaGrammar(schema);
      expect(accepts(g, '{"a":1}')).toBe(true);
      expect(accepts(g, '{}')).toBe(true);
      expect(accepts(g, '{"a":1,"b":"x"}')).toBe(false);
    }
    expect(accepts(jsonSchemaGrammar({ type: 'object', properties: {} }), '{}')).toBe(true);
    expect(accepts(jsonSchemaGrammar({ type: 'object', additionalProperties: false }), '{}')).toBe(true);
    expect(accepts(jsonSchemaGrammar({ type: 'object', additionalProperties: false }), '{"a":1}')).toBe(false);
  });

  it('writes required names missing from "properties", valued by additionalProperties', () => {
    const g = jsonSchemaGrammar({ type: 'object', required: ['id'], additionalProperties: { type: 'integer' } });
    expect(accepts(g, '{"id":3}')).toBe(true);
    expect(accepts(g, '{"id":"3"}')).toBe(false);
    expect(accepts(g, '{}')).toBe(false);
    expect(refusal({ type: 'object', properties: {}, required: ['id'], additionalProperties: false })[0]).toBe('invalid_json_schema');
  });

  it('takes the type from the keywords when "type" is missing', () => {
    const g = jsonSchemaGrammar({ properties: { a: { type: 'null' } }, required: ['a'] });
    expect(accepts(g, '{"a":null}')).toBe(true);
    expect(accepts(g, '"x"')).toBe(false);
    expect(accepts(jsonSchemaGrammar({ maxLength: 2 }), '"ab"')).toBe(true);
    expect(accepts(jsonSchemaGrammar({ maxLength: 2 }), '"abc"')).toBe(false);
    expect(accepts(jsonSchemaGrammar({ maxLength: 2 }), '3')).toBe(false);
  });

  it('keeps only the enum values that meet the other keywords', () => {
    const g = jsonSchemaGrammar({ type: 'string', maxLength: 2, enum: ['a', 'abc', 1, 'ab'] });
    expect(['"a"', '"ab"'].map((t) => accepts(g, t))).toEqual([true, true]);
    expect(['"abc"', '1'].map((t) => accepts(g, t))).toEqual([false, false]);
    expect(refusal({ type: 'string', enum: [1, 2] })[0]).toBe('invalid_json_schema');
    expect(accepts(jsonSchemaGrammar({ enum: ['x'], const: 'x' }), '"x"')).toBe(true);
    expect(refusal({ enum: ['x'], const: 'y' })[0]).toBe('invalid_json_schema');
  });

  it('spells numbers as the number grammar does (integers without fraction)', () => {
    const g = jsonSchemaGrammar({ type: 'integer' });
    expect(['0', '-7', '1.0', '01', '1e3', '+1'].map((t) => accepts(g, t))).toEqual([true, true, false, false, false, false]);
    const n = jsonSchemaGrammar({ type: ['integer', 'number'] });
    expect(['1.5', '-2e-3', '3'].every((t) => accepts(n, t))).toBe(true);
  });

  it('counts string length in characters, escapes included', () => {
    const g = jsonSchemaGrammar({ type: 'string', minLength: 1, maxLength: 2 });
    expect(['"a"', '"\\n\\""', '"é日"', '"\\u00e9"'].every((t) => accepts(g, t))).toBe(true);
    expect(['""', '"abc"', '"a\nb"'].some((t) => accepts(g, t))).toBe(false);
  });
});

describe('$ref', () => {
  it('names rules after the JSON pointer of their definition and shares them', () => {
    const g = jsonSchemaGrammar({
      type: 'object',
      properties: { a: { $ref: '#/$defs/p' }, b: { $ref: '#/$defs/p' } },
      required: ['a', 'b'],
      $defs: { p: { type: 'boolean' }, unused: { type: 'string', pattern: 'x' } },
    });
    expect(Object.keys(g.rules)).toEqual(['#', '#/$defs/p']);
    expect(g.root).toBe('#');
    expect(accepts(g, '{"a":true,"b":false}')).toBe(true);
  });

  it('resolves nested $defs, definitions and escaped or percent-encoded names', () => {
    const g = jsonSchemaGrammar({
      anyOf: [{ $ref: '#/$defs/outer/$defs/in%20ner' }, { $ref: '#/definitions/~0x~1y' }],
      $defs: { outer: { $defs: { 'in ner': { const: 1 } } } },
      definitions: { '~x/y': { const: 2 } },
    });
    expect([accepts(g, '1'), accepts(g, '2'), accepts(g, '3')]).toEqual([true, true, false]);
  });

  it('supports recursion through "#" and through mutually recursive definitions', () => {
    const g = jsonSchemaGrammar({
      $ref: '#/$defs/a',
      $defs: {
        a: { type: 'array', items: { $ref: '#/$defs/b' }, maxItems: 2 },
        b: { anyOf: [{ type: 'integer' }, { $ref: '#/$defs/a' }] },
      },
    });
    expect(['[]', '[1,[2,[]]]', '[[[[3]]]]'].every((t) => accepts(g, t))).toBe(true);
    expect(['[1,2,3]', '[[1,2,3]]', '[1,]'].some((t) => accepts(g, t))).toBe(false);
    const list = jsonSchemaGrammar({ type: 'array', items: { $ref: '#' } });
    expect(accepts(list, '[[],[[]]]')).toBe(true);
  });

  it('refuses remote, anchor and arbitrary pointers, and dangling ones', () => {
    for (const $ref of ['https://example.com/s.json', 'other.json#/$defs/a', '#node', '#/properties/a', '#/$defs']) {
      expect(refusal({ type: 'object', properties: { a: { $ref } } }), $ref).toEqual([
        'unsupported_json_schema_keyword',
        'schema.properties.a.$ref',
        expect.stringContaining($ref),
      ]);
    }
    expect(refusal({ $ref: '#/$defs/missing' })).toEqual(['invalid_json_schema', 'schema.$ref', expect.stringContaining('points at nothing')]);
    expect(refusal({ $ref: '#/$defs/a', $defs: { a: 3 } })[0]).toBe('invalid_json_schema');
  });

  it('refuses $refs that loop without consuming anything', () => {
    expect(refusal({ anyOf: [{ $ref: '#' }, { type: 'string' }] })).toEqual(['invalid_json_schema', 'schema', expect.stringContaining('#')]);
    expect(refusal({ $ref: '#/$defs/a', $defs: { a: { $ref: '#/$defs/a' } } })[0]).toBe('invalid_json_schema');
  });
});

describe('schemas without a finite instance', () => {
  it.each([
    ['false', false],
    ['a required property that is false', { type: 'object', properties: { a: false }, required: ['a'] }],
    ['minLength above maxLength', { type: 'string', minLength: 3, maxLength: 2 }],
    ['minItems above maxItems', { type: 'array', minItems: 3, maxItems: 2 }],
    ['an enum no value of which has the type', { type: 'integer', enum: ['1'] }],
    ['a property that requires itself', { type: 'object', properties: { self: { $ref: '#' } }, required: ['self'] }],
    [
      'definitions that require each other',
      {
        $ref: '#/$defs/a',
        $defs: {
          a: { type: 'object', properties: { b: { $ref: '#/$defs/b' } }, required: ['b'] },
          b: { type: 'array', items: { $ref: '#/$defs/a' }, minItems: 1 },
        },
      },
    ],
  ])('%s is refused', (_, schema) => {
    const [code, param, message] = refusal(schema, 'response_format.json_schema.schema');
    expect([code, param]).toEqual(['invalid_json_schema', 'response_format.json_schema.schema']);
    expect(message).toMatch(/no valid instance/);
  });

  it('drops only what cannot be written: optional false properties, impossible branches, empty arrays', () => {
    const g = jsonSchemaGrammar({
      type: 'object',
      properties: { a: false, b: { anyOf: [{ type: 'string', minLength: 5, maxLength: 1 }, { type: 'null' }] }, c: { type: 'array', items: false } },
      required: ['b', 'c'],
    });
    expect(accepts(g, '{"b":null,"c":[]}')).toBe(true);
    expect(accepts(g, '{"a":1,"b":null,"c":[]}')).toBe(false);
    expect(accepts(g, '{"b":null,"c":[1]}')).toBe(false);
    const recursiveOptional = jsonSchemaGrammar({ type: 'object', properties: { next: { $ref: '#' } } });
    expect(accepts(recursiveOptional, '{"next":{"next":{}}}')).toBe(true);
  });
});

describe('refused keywords name their path', () => {
  const refused: Array<[string, unknown, string]> = [
    ['minimum', { type: 'object', properties: { age: { type: 'integer', minimum: 0 } } }, 'schema.properties.age.minimum'],
    ['maximum', { type: 'number', maximum: 1 }, 'schema.maximum'],
    ['exclusiveMinimum', { type: 'number', exclusiveMinimum: 0 }, 'schema.exclusiveMinimum'],
    ['exclusiveMaximum', { type: 'number', exclusiveMaximum: 0 }, 'schema.exclusiveMaximum'],
    ['multipleOf', { type: 'integer', multipleOf: 2 }, 'schema.multipleOf'],
    ['pattern', { type: 'string', pattern: '^a' }, 'schema.pattern'],
    ['format', { type: 'array', items: { type: 'string', format: 'date' } }, 'schema.items.format'],
    ['patternProperties', { type: 'object', patternProperties: {} }, 'schema.patternProperties'],
    ['propertyNames', { type: 'object', propertyNames: {} }, 'schema.propertyNames'],
    ['minProperties', { type: 'object', minProperties: 1 }, 'schema.minProperties'],
    ['maxProperties', { type: 'object', maxProperties: 1 }, 'schema.maxProperties'],
    ['dependentRequired', { type: 'object', dependentRequired: {} }, 'schema.dependentRequired'],
    ['unevaluatedProperties', { type: 'object', unevaluatedProperties: false }, 'schema.unevaluatedProperties'],
    ['prefixItems', { type: 'array', prefixItems: [] }, 'schema.prefixItems'],
    ['contains', { type: 'array', contains: {} }, 'schema.contains'],
    ['uniqueItems: true', { type: 'array', uniqueItems: true }, 'schema.uniqueItems'],
    ['tuple items', { type: 'array', items: [{}, {}] }, 'schema.items'],
    ['not', { not: { type: 'null' } }, 'schema.not'],
    ['if', { if: {}, then: {} }, 'schema.if'],
    ['nullable', { type: 'string', nullable: true }, 'schema.nullable'],
    ['an unknown keyword', { type: 'string', colour: 'red' }, 'schema.colour'],
    ['a keyword inside $defs once referenced', { $ref: '#/$defs/a', $defs: { a: { type: 'number', minimum: 1 } } }, 'schema.$defs.a.minimum'],
    ['a keyword inside anyOf', { anyOf: [{ type: 'null' }, { type: 'string', format: 'email' }] }, 'schema.anyOf[1].format'],
    ['a keyword inside an enum-checked schema', { type: 'object', properties: { a: { pattern: 'x' } }, enum: [{}] }, 'schema.properties.a.pattern'],
    ['allOf of two schemas', { allOf: [{ type: 'string' }, { maxLength: 3 }] }, 'schema.allOf'],
    ['siblings of $ref', { $ref: '#', type: 'object' }, 'schema.type'],
    ['siblings of anyOf', { type: 'string', anyOf: [{ maxLength: 1 }] }, 'schema.type'],
    ['oneOf over overlapping branches', { oneOf: [{ type: 'string' }, { type: 'string', maxLength: 2 }] }, 'schema.oneOf'],
    ['oneOf over untagged objects', { oneOf: [{ type: 'object', properties: { a: {} } }, { type: 'object', properties: { b: {} } }] }, 'schema.oneOf'],
    ['oneOf over integer and number', { oneOf: [{ type: 'integer' }, { type: 'number' }] }, 'schema.oneOf'],
    ['maxLength above the limit', { type: 'string', maxLength: GRAMMAR_LIMITS.maxStringLength + 1 }, 'schema.maxLength'],
    ['maxItems above the limit', { type: 'array', maxItems: GRAMMAR_LIMITS.maxRepeat + 1 }, 'schema.maxItems'],
    ['minItems above the limit', { type: 'array', minItems: GRAMMAR_LIMITS.maxRepeat + 1 }, 'schema.minItems'],
  ];
  it.each(refused)('%s', (keyword, schema, param) => {
    const [code, gotParam, message] = refusal(schema);
    expect([code, gotParam]).toEqual(['unsupported_json_schema_keyword', param]);
    expect(message).toContain(param);
  });

  it('prefixes the request field given as path', () => {
    expect(refusal({ type: 'integer', minimum: 0 }, 'tools[2].function.parameters')[1]).toBe('tools[2].function.parameters.minimum');
  });

  it('ignores annotations and unreferenced definitions', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'https://example.com/s',
      $comment: 'c',
      title: 't',
      description: 'd',
      default: 1,
      examples: [1],
      deprecated: false,
      readOnly: false,
      writeOnly: false,
      strict: true,
      type: 'integer',
      $defs: { unused: { pattern: 'x' } },
    };
    expect(accepts(jsonSchemaGrammar(schema), '12')).toBe(true);
  });

  it.each([
    ['a non-schema', 3, 'schema'],
    ['an unknown type', { type: 'float' }, 'schema.type'],
    ['an empty type list', { type: [] }, 'schema.type'],
    ['an empty enum', { enum: [] }, 'schema.enum'],
    ['required not strings', { type: 'object', required: [1] }, 'schema.required'],
    ['properties not an object', { type: 'object', properties: [] }, 'schema.properties'],
    ['a negative maxLength', { type: 'string', maxLength: -1 }, 'schema.maxLength'],
    ['a fractional minItems', { type: 'array', minItems: 1.5 }, 'schema.minItems'],
    ['a non-schema property', { type: 'object', properties: { a: 'string' } }, 'schema.properties'],
    ['anyOf not a list', { anyOf: {} }, 'schema.anyOf'],
  ])('malformed: %s', (_, schema, param) => {
    expect(refusal(schema).slice(0, 2)).toEqual(['invalid_json_schema', param]);
  });
});

describe('oneOf', () => {
  it('is accepted when branches have different types or distinct required tags', () => {
    const g = jsonSchemaGrammar({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'integer' } }, { enum: [null] }] });
    expect(['"x"', '[1]', 'null'].every((t) => accepts(g, t))).toBe(true);
    const tagged = jsonSchemaGrammar({
      oneOf: [
        { $ref: '#/$defs/cat' },
        { type: 'object', properties: { kind: { enum: ['dog', 'wolf'] }, barks: { type: 'boolean' } }, required: ['kind', 'barks'] },
      ],
      $defs: { cat: { type: 'object', properties: { kind: { const: 'cat' } }, required: ['kind'] } },
    });
    expect(['{"kind":"cat"}', '{"kind":"wolf","barks":true}'].every((t) => accepts(tagged, t))).toBe(true);
    expect(accepts(tagged, '{"kind":"cat","barks":true}')).toBe(false);
  });
});

describe('limits', () => {
  it('refuses a schema that compiles beyond GRAMMAR_LIMITS.maxNodes', () => {
    const properties = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`p${i}`, { type: 'integer' }]));
    const [code, param, message] = refusal({ type: 'object', properties }, 'response_format.json_schema.schema');
    expect([code, param]).toEqual(['invalid_json_schema', 'response_format.json_schema.schema.properties']);
    expect(message).toMatch(/too large/);
    const many = Object.fromEntries(Array.from({ length: 12000 }, (_, i) => [`p${i}`, { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }]));
    expect(refusal({ type: 'object', properties: many, required: Object.keys(many) })).toEqual([
      'invalid_json_schema',
      'schema',
      expect.stringMatching(/too large.*grammar nodes/),
    ]);
  });

  it('refuses more rules than GRAMMAR_LIMITS.maxRules', () => {
    const $defs = Object.fromEntries(Array.from({ length: GRAMMAR_LIMITS.maxRules + 1 }, (_, i) => [`d${i}`, { type: 'array', items: { $ref: '#' } }]));
    const schema = { anyOf: Object.keys($defs).map((d) => ({ $ref: `#/$defs/${d}` })), $defs };
    expect(refusal(schema)).toEqual(['invalid_json_schema', 'schema', expect.stringContaining(`${GRAMMAR_LIMITS.maxRules}`)]);
  });

  it('refuses schemas nested too deeply instead of overflowing the stack', () => {
    let schema: Record<string, unknown> = { type: 'null' };
    for (let i = 0; i < 5000; i++) schema = { type: 'array', items: schema };
    expect(refusal(schema)[0]).toBe('invalid_json_schema');
  });

  it('keeps a sizeable realistic schema well within the limits', () => {
    const properties = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field_${i}`, { type: ['string', 'null'], maxLength: 100 }]));
    const g = jsonSchemaGrammar({ type: 'object', properties, required: Object.keys(properties).slice(20), additionalProperties: false });
    const obj = Object.fromEntries(Object.keys(properties).slice(15).map((k) => [k, null]));
    expect(accepts(g, JSON.stringify(obj))).toBe(true);
  });
});

describe('jsonObjectGrammar / jsonValueGrammar', () => {
  it('accept compact JSON objects / values only', () => {
    const obj = jsonObjectGrammar();
    for (const t of ['{}', '{"a":[1,{"b":null}],"c":"\\u00e9"}', '{"":true,"x":-1.5e3}']) expect(accepts(obj, t), t).toBe(true);
    for (const t of ['[]', '"x"', '{ }', '{"a":1,}', '{"a" :1}', '{"a":01}', '{a:1}']) expect(accepts(obj, t), t).toBe(false);
    const value = jsonValueGrammar();
    for (const t of ['null', 'true', '[1,"2",[]]', '{}', '-0.5']) expect(accepts(value, t), t).toBe(true);
    for (const t of ['nul', '[1 ,2]', 'NaN', '']) expect(accepts(value, t), t).toBe(false);
  });
});
