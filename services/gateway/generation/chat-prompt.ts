import { apiError } from '../../common/errors/index.js';
import type { BackendImage } from '../backend.js';
import type { GatewayContext } from '../context.js';
import type { NormalizedChatRequest } from '../openai/index.js';
import { resolveChatImages, tokenizeWithImages } from '../vision/index.js';
import { refuseCertainlyTooLong } from './prompt-bound.js';

export interface ChatPrompt {
  promptIds: number[];
  images?: BackendImage[];
}

/**
 * Chat messages → prompt token ids: images decoded and checked (a bad one is a 400, before
 * anything is queued), the chat template rendered with tools and thinking, the text tokenized
 * with each image's placeholders expanded. Shared by the routes built on chat requests
 * (/v1/chat/completions, /v1/responses); errors name `messages`.
 */
export async function renderChatPrompt(ctx: GatewayContext, req: NormalizedChatRequest): Promise<ChatPrompt> {
  const { tokenizer, chatTemplate } = ctx.model;
  if (!chatTemplate) throw apiError('unsupported_parameter', 'This model has no chat template; use /v1/completions with a plain prompt.', 'messages');
  const images = await resolveChatImages(req, ctx.model, ctx.media);
  let text: string;
  try {
    text = chatTemplate.render({
      messages: req.messages,
      addGenerationPrompt: true,
      tools: req.tools,
      enableThinking: req.enableThinking,
      extra: req.chatTemplateKwargs,
    });
  } catch (e) {
    throw apiError('invalid_parameter', `The chat template could not render these messages: ${(e as Error).message}`, 'messages');
  }
  refuseCertainlyTooLong(text, tokenizer, ctx.limits.maxModelLen, 'messages');
  const withImages = images && tokenizeWithImages(text, images, tokenizer, ctx.model.vision!.imagePlaceholderId);
  if (withImages) return { promptIds: withImages.promptIds, images: withImages.images };
  return { promptIds: tokenizer.encode(text, { addSpecialTokens: false }) };
}
