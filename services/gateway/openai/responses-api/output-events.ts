import { newFunctionCallId, newMessageId, newReasoningId } from './ids.js';
import { buildResponseObject, type ResponseMeta } from './response-object.js';
import type { FunctionCallItem, ItemStatus, MessageItem, OutputItem, ReasoningItem, ResponsesEcho, ResponsesStreamEvent, ResponsesUsage } from './types.js';

/** What the generation adds since the previous push (a ChoiceDelta's text fields). */
export interface OutputDelta {
  reasoning?: string;
  content?: string;
  /** Tool-call fragments: id and name come with a call's first fragment, arguments accumulate. */
  toolCalls?: ReadonlyArray<{ index: number; id?: string; name?: string; argumentsDelta?: string }>;
}

export type OutputFinish = 'stop' | 'length' | 'tool_calls';

/** Distributive Omit, so each event keeps its own fields. */
type EventBody = ResponsesStreamEvent extends infer E ? (E extends unknown ? Omit<E, 'sequence_number'> : never) : never;

type Open =
  | { kind: 'reasoning'; index: number; item: ReasoningItem; text: string }
  | { kind: 'message'; index: number; item: MessageItem; text: string }
  | { kind: 'call'; index: number; item: FunctionCallItem; callIndex: number };

/**
 * Turns a generation's deltas into the Responses API's output items and stream events. One item
 * is open at a time, in the order the model writes them: reasoning, then the answer text, then
 * each function call; starting the next item closes the previous one (its `.done` events).
 *
 * The non-streaming route pushes the whole generation through the same builder and keeps only
 * `output`, so a streamed and a non-streamed response have the same items.
 */
export class ResponseEventBuilder {
  readonly output: OutputItem[] = [];
  private seq = 0;
  private open: Open | undefined;

  constructor(
    private readonly meta: ResponseMeta,
    private readonly echo: ResponsesEcho,
  ) {}

  /** `response.created` and `response.in_progress`: the response exists, with no output yet. */
  start(): ResponsesStreamEvent[] {
    const response = buildResponseObject(this.meta, this.echo, { status: 'in_progress', output: [] });
    return [this.event({ type: 'response.created', response }), this.event({ type: 'response.in_progress', response })];
  }

  push(d: OutputDelta): ResponsesStreamEvent[] {
    const events: ResponsesStreamEvent[] = [];
    if (d.reasoning) this.appendText('reasoning', d.reasoning, events);
    if (d.content) this.appendText('message', d.content, events);
    for (const c of d.toolCalls ?? []) this.appendCall(c, events);
    return events;
  }

  /**
   * Closes the open item and answers the final event: `response.completed`, or
   * `response.incomplete` when the output-token budget ran out. A response with no item at all
   * gets an empty message, so `output_text` is always there to read.
   */
  finish(reason: OutputFinish, usage: ResponsesUsage): ResponsesStreamEvent[] {
    const events: ResponsesStreamEvent[] = [];
    const cut = reason === 'length';
    if (this.output.length === 0) this.openItem('message', events);
    this.closeOpen(cut ? 'incomplete' : 'completed', events);
    const response = buildResponseObject(this.meta, this.echo, { status: cut ? 'incomplete' : 'completed', output: this.output, usage });
    events.push(this.event({ type: cut ? 'response.incomplete' : 'response.completed', response }));
    return events;
  }

  /** `response.failed` with what was generated before the failure. */
  fail(message: string): ResponsesStreamEvent[] {
    const events: ResponsesStreamEvent[] = [];
    this.closeOpen('incomplete', events);
    const response = buildResponseObject(this.meta, this.echo, { status: 'failed', output: this.output, errorMessage: message });
    events.push(this.event({ type: 'response.failed', response }));
    return events;
  }

  private event(body: EventBody): ResponsesStreamEvent {
    return { ...body, sequence_number: this.seq++ } as ResponsesStreamEvent;
  }

  private appendText(kind: 'reasoning' | 'message', text: string, events: ResponsesStreamEvent[]): void {
    if (this.open?.kind !== kind) this.openItem(kind, events);
    const open = this.open as Extract<Open, { kind: 'reasoning' | 'message' }>;
    open.text += text;
    const where = { item_id: open.item.id, output_index: open.index, content_index: 0 };
    events.push(
      this.event(kind === 'message' ? { type: 'response.output_text.delta', ...where, delta: text, logprobs: [] } : { type: 'response.reasoning_text.delta', ...where, delta: text }),
    );
  }

  private appendCall(c: NonNullable<OutputDelta['toolCalls']>[number], events: ResponsesStreamEvent[]): void {
    if (this.open?.kind !== 'call' || this.open.callIndex !== c.index) {
      this.closeOpen('completed', events);
      const item: FunctionCallItem = { type: 'function_call', id: newFunctionCallId(), call_id: c.id ?? '', name: c.name ?? '', arguments: '', status: 'in_progress' };
      this.open = { kind: 'call', index: this.output.length, item, callIndex: c.index };
      this.output.push(item);
      events.push(this.event({ type: 'response.output_item.added', output_index: this.open.index, item: { ...item } }));
    }
    const open = this.open;
    if (c.argumentsDelta) {
      open.item.arguments += c.argumentsDelta;
      events.push(this.event({ type: 'response.function_call_arguments.delta', item_id: open.item.id, output_index: open.index, delta: c.argumentsDelta }));
    }
  }

  private openItem(kind: 'reasoning' | 'message', events: ResponsesStreamEvent[]): void {
    this.closeOpen('completed', events);
    const index = this.output.length;
    if (kind === 'reasoning') {
      const item: ReasoningItem = { type: 'reasoning', id: newReasoningId(), summary: [], content: [], status: 'in_progress' };
      this.open = { kind, index, item, text: '' };
      this.output.push(item);
    } else {
      const item: MessageItem = { type: 'message', id: newMessageId(), role: 'assistant', status: 'in_progress', content: [] };
      this.open = { kind, index, item, text: '' };
      this.output.push(item);
    }
    const item = this.open.item as ReasoningItem | MessageItem;
    events.push(this.event({ type: 'response.output_item.added', output_index: index, item: { ...item, content: [] } as OutputItem }));
    const part = kind === 'message' ? { type: 'output_text' as const, text: '', annotations: [] } : { type: 'reasoning_text' as const, text: '' };
    events.push(this.event({ type: 'response.content_part.added', item_id: item.id, output_index: index, content_index: 0, part }));
  }

  /** The `.done` events of the open item, which takes its final text and status. */
  private closeOpen(status: ItemStatus, events: ResponsesStreamEvent[]): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    const where = { item_id: open.item.id, output_index: open.index };
    if (open.kind === 'call') {
      // A parsed call is whole whatever happened after it.
      open.item.status = 'completed';
      events.push(this.event({ type: 'response.function_call_arguments.done', ...where, name: open.item.name, arguments: open.item.arguments }));
    } else if (open.kind === 'message') {
      const part = { type: 'output_text' as const, text: open.text, annotations: [] as never[] };
      open.item.content = [part];
      open.item.status = status;
      events.push(this.event({ type: 'response.output_text.done', ...where, content_index: 0, text: open.text, logprobs: [] }));
      events.push(this.event({ type: 'response.content_part.done', ...where, content_index: 0, part }));
    } else {
      const part = { type: 'reasoning_text' as const, text: open.text };
      open.item.content = [part];
      open.item.status = status;
      events.push(this.event({ type: 'response.reasoning_text.done', ...where, content_index: 0, text: open.text }));
      events.push(this.event({ type: 'response.content_part.done', ...where, content_index: 0, part }));
    }
    events.push(this.event({ type: 'response.output_item.done', output_index: open.index, item: structuredClone(open.item) }));
  }
}
