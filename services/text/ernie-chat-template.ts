// The chat template written into generated tokenizers. Plain conversations render exactly
// like ERNIE-4.5-0.3B-PT's own template:
//   <|begin_of_sentence|>{system}\nUser: {user}\nAssistant: {reply}<|end_of_sentence|>User: ...\nAssistant: 
// Two optional extensions, inert unless requested, so later work can exercise them:
// - `tools`: listed after the system text; calls are <tool_call>{"name", "arguments"}</tool_call>
//   and tool results come back in a user turn wrapped in <tool_response>.
// - `enable_thinking`: true opens "<think>\n" after "Assistant: "; false closes an empty
//   think block (the ERNIE-4.5 VL convention); undefined adds nothing. A past assistant
//   turn's `reasoning_content` is rendered inside <think>...</think>.
// Image parts (`image_url`) render as ERNIE-4.5-VL's template writes them, numbered across the
// conversation: "Picture N:<|IMAGE_START|><|image@placeholder|><|IMAGE_END|>"; the gateway then
// expands the marker to the image's placeholder tokens.

export const ERNIE_CHAT_TEMPLATE = `{%- if not add_generation_prompt is defined -%}
    {%- set add_generation_prompt = true -%}
{%- endif -%}
{%- if not cls_token is defined -%}
    {%- set cls_token = "<|begin_of_sentence|>" -%}
{%- endif -%}
{%- if not sep_token is defined -%}
    {%- set sep_token = "<|end_of_sentence|>" -%}
{%- endif -%}
{%- set images = namespace(count=0) -%}
{%- macro text_of(content) -%}
    {%- if content is string -%}
        {{- content -}}
    {%- elif content is iterable -%}
        {%- for part in content -%}
            {%- if part["type"] == "text" -%}{{- part["text"] -}}
            {%- elif part["type"] == "image_url" -%}
                {%- set images.count = images.count + 1 -%}
                {{- "Picture " + (images.count | string) + ":<|IMAGE_START|><|image@placeholder|><|IMAGE_END|>" -}}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro -%}
{{- cls_token -}}
{%- set ns = namespace(skip_first=false) -%}
{%- if messages and messages[0]["role"] == "system" -%}
    {{- text_of(messages[0]["content"]) + "\\n" -}}
    {%- set ns.skip_first = true -%}
{%- endif -%}
{%- if tools -%}
    {{- "You can call these tools. To call one, reply with <tool_call>{\\"name\\": <tool name>, \\"arguments\\": <JSON object>}</tool_call>.\\n" -}}
    {%- for tool in tools -%}
        {{- (tool["function"] if tool["function"] is defined else tool) | tojson -}}
        {{- "\\n" -}}
    {%- endfor -%}
{%- endif -%}
{%- for message in messages -%}
    {%- if not (loop.first and ns.skip_first) -%}
        {%- if message["role"] == "user" -%}
            {{- "User: " + text_of(message["content"]) + "\\n" -}}
        {%- elif message["role"] == "system" -%}
            {{- text_of(message["content"]) + "\\n" -}}
        {%- elif message["role"] == "tool" -%}
            {{- "User: <tool_response>\\n" + text_of(message["content"]) + "\\n</tool_response>\\n" -}}
        {%- elif message["role"] == "assistant" -%}
            {{- "Assistant: " -}}
            {%- if message["reasoning_content"] -%}
                {{- "<think>\\n" + message["reasoning_content"] + "\\n</think>\\n\\n" -}}
            {%- endif -%}
            {{- text_of(message["content"]) -}}
            {%- if message["tool_calls"] -%}
                {%- for call in message["tool_calls"] -%}
                    {%- set fn = call["function"] if call["function"] is defined else call -%}
                    {%- if not loop.first or text_of(message["content"]) -%}{{- "\\n" -}}{%- endif -%}
                    {{- "<tool_call>{\\"name\\": " + (fn["name"] | tojson) + ", \\"arguments\\": " -}}
                    {%- if fn["arguments"] is string -%}
                        {{- fn["arguments"] -}}
                    {%- else -%}
                        {{- fn["arguments"] | tojson -}}
                    {%- endif -%}
                    {{- "}</tool_call>" -}}
                {%- endfor -%}
            {%- endif -%}
            {{- sep_token -}}
        {%- endif -%}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- "Assistant: " -}}
    {%- if enable_thinking is defined and enable_thinking -%}
        {{- "<think>\\n" -}}
    {%- elif enable_thinking is defined -%}
        {{- "<think>\\n\\n</think>\\n\\n" -}}
    {%- endif -%}
{%- endif -%}`;
