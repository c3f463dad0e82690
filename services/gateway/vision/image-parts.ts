import type { NormalizedChatMessage } from '../openai/index.js';

export interface ImageRef {
  url: string;
  /** Request path of the URL, for error messages: `messages[0].content[1].image_url.url`. */
  param: string;
}

/** The request's images in prompt order (message order, then part order). */
export function collectImageRefs(messages: readonly NormalizedChatMessage[]): ImageRef[] {
  const refs: ImageRef[] = [];
  messages.forEach((m, i) => {
    if (!Array.isArray(m.content)) return;
    m.content.forEach((part, j) => {
      if (part.type === 'image_url') refs.push({ url: part.image_url.url, param: `messages[${i}].content[${j}].image_url.url` });
    });
  });
  return refs;
}
