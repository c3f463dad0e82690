/**
 * The grammar of a forced tool call in ERNIE's format, as the chat template shows it to the
 * model (it tells the model to "reply with <tool_call>{"name": <tool name>, "arguments": <JSON
 * object>}</tool_call>" and renders past calls that way, "\n" between calls) and as
 * services/text/tool-call-parser.ts reads it back:
 *
 *   <tool_call>{"name": "get_weather", "arguments": {"city":"Paris"}}</tool_call>
 *
 * The arguments follow the tool's `parameters` schema (compiled by json-schema.ts, objects only,
 * since the parser takes nothing else as arguments); a tool without parameters takes any object.
 */
import type { Expr, Grammar } from './grammar.js';
import { alt, lit, ref, seq } from './expr-builders.js';
import { compileJsonSchemaRule, newCompilation } from './json-schema.js';
import { finishSchemaGrammar } from './json-schema-finish.js';
import { addJsonValueRules, JSON_OBJECT_RULE } from './json-value.js';

export interface ToolSpec {
  name: string;
  /** JSON Schema of the arguments; absent: any JSON object. */
  parameters?: Record<string, unknown>;
  /** Request field of `parameters`, for errors; default `tools[<index in the list>].function.parameters`. */
  param?: string;
}

/** Most calls one forced reply may hold when parallel calls are allowed. */
export const MAX_PARALLEL_TOOL_CALLS = 8;

const CALL_OPEN = '<tool_call>{"name": ';
const ARGUMENTS = ', "arguments": ';
const CALL_CLOSE = '}</tool_call>';
const BETWEEN_CALLS = '\n';

const CALL_RULE = 'tool_call';
const ROOT_RULE = 'tool_calls';

/**
 * One call to one of `tools` (or, with `parallel`, 1..MAX_PARALLEL_TOOL_CALLS calls separated by
 * "\n"). Throws the schema compiler's ApiErrors, with the offending tool's `param`.
 */
export function toolCallGrammar(tools: ToolSpec[], opts: { parallel: boolean }): Grammar {
  if (tools.length === 0) throw new Error('toolCallGrammar needs at least one tool');
  const rules: Record<string, Expr> = {};
  rules[ROOT_RULE] = {
    k: 'repeat',
    item: ref(CALL_RULE),
    min: 1,
    max: opts.parallel ? MAX_PARALLEL_TOOL_CALLS : 1,
    sep: lit(BETWEEN_CALLS),
  };
  rules[CALL_RULE] = lit(''); // reserved: rule order root, call, then the arguments
  const roots: Array<{ rule: string; param: string }> = [];
  const calls = tools.map((tool, i) => {
    const param = tool.param ?? `tools[${i}].function.parameters`;
    let args: string;
    if (tool.parameters === undefined) {
      addJsonValueRules(rules);
      args = JSON_OBJECT_RULE;
    } else {
      args = compileJsonSchemaRule(newCompilation(tool.parameters, rules, param, `tools[${i}]`), true);
      roots.push({ rule: args, param });
    }
    return seq(lit(`${CALL_OPEN}${JSON.stringify(tool.name)}${ARGUMENTS}`), ref(args), lit(CALL_CLOSE));
  });
  rules[CALL_RULE] = alt(...calls);
  return finishSchemaGrammar({ rules, root: ROOT_RULE }, roots);
}
