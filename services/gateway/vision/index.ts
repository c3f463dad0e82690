export { resolveChatImages } from './resolve-images.js';
export { tokenizeWithImages, IMAGE_MARKER, type PromptWithImages } from './expand-placeholders.js';
export { visionSpecFromConfig, IMAGE_PLACEHOLDER_TOKEN } from './vision-spec.js';
export { collectImageRefs, type ImageRef } from './image-parts.js';
