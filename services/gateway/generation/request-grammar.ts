import { apiError } from '../../common/errors/index.js';
import { afterReasoning, compileGrammar, grammarText, GrammarError, jsonObjectGrammar, jsonSchemaGrammar, toolCallGrammar, type Grammar, type ToolSpec } from '../../grammar/index.js';
import type { NormalizedRequest } from '../openai/index.js';

/** Plain content with no tool call in it (tool_choice "none" while tools are given). */
const NO_TOOL_CALL: Grammar = { root: 'text', rules: { text: { k: 'without', text: '<tool_call>' } } };

/** Grammar texts by the request fields they came from: a schema is compiled once, not per request. */
const CACHE_CAPACITY = 256;
const cache = new Map<string, string>();

/**
 * The grammar (wire text) a request's output must follow, or undefined for free text. A forced
 * tool call (tool_choice "required" or a named function) wins over response_format, as in
 * OpenAI: the reply is the call. Invalid or unsupported schemas are 400s here, at the edge.
 */
export function requestGrammar(req: NormalizedRequest): string | undefined {
  const spec = constraintSpec(req);
  if (spec === undefined) return undefined;
  // With thinking on, the reply follows a free reasoning block (after-reasoning.ts).
  const thinking = req.kind === 'chat' && req.enableThinking;
  const key = JSON.stringify([spec, thinking]);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const grammar = thinking ? afterReasoning(buildGrammar(spec)) : buildGrammar(spec);
  try {
    // Built here once so that a grammar no worker could use (no finite sentence, too large) is the client's 400.
    compileGrammar(grammar);
  } catch (e) {
    if (e instanceof GrammarError) throw apiError('invalid_json_schema', `The requested output format cannot be enforced: ${e.message}.`, spec.param);
    throw e;
  }
  const text = grammarText(grammar);
  cache.set(key, text);
  if (cache.size > CACHE_CAPACITY) cache.delete(cache.keys().next().value!);
  return text;
}

type Spec =
  | { kind: 'tools'; tools: ToolSpec[]; parallel: boolean; param: string }
  | { kind: 'no_tools'; param: string }
  | { kind: 'json_object'; param: string }
  | { kind: 'json_schema'; schema: Record<string, unknown>; param: string };

function constraintSpec(req: NormalizedRequest): Spec | undefined {
  if (req.kind === 'chat' && req.tools?.length) {
    const choice = req.toolChoice;
    if (choice === 'required' || typeof choice === 'object') {
      const named = typeof choice === 'object' ? choice.function.name : undefined;
      const tools = req.tools
        .map((t, i) => ({ name: t.function.name, parameters: t.function.parameters, param: `tools[${i}].function.parameters` }))
        .filter((t) => named === undefined || t.name === named);
      // A named function is called once; "required" may call several when parallel calls are on.
      return { kind: 'tools', tools, parallel: named === undefined && req.parallelToolCalls, param: 'tools' };
    }
    if (choice === 'none' && !req.responseFormat) return { kind: 'no_tools', param: 'tool_choice' };
  }
  const f = req.responseFormat;
  if (!f) return undefined;
  if (f.type === 'json_object') return { kind: 'json_object', param: 'response_format' };
  return { kind: 'json_schema', schema: f.schema, param: f.param ?? 'response_format.json_schema.schema' };
}

function buildGrammar(spec: Spec): Grammar {
  switch (spec.kind) {
    case 'tools':
      return toolCallGrammar(spec.tools, { parallel: spec.parallel });
    case 'no_tools':
      return NO_TOOL_CALL;
    case 'json_object':
      return jsonObjectGrammar();
    case 'json_schema':
      return jsonSchemaGrammar(spec.schema, { path: spec.param });
  }
}
