export { loadImage, processImageBytes, type ProcessedImage } from './process-image.js';
export { DEFAULT_MEDIA_OPTIONS, resolveMediaOptions, type MediaOptions, type MediaOptionsInput, type RemoteImageOptions } from './options.js';
export { smartResize, roundHalfEven, ResizeError, type ResizeBounds, type Size } from './smart-resize.js';
export { sniffImageFormat, type SupportedFormat } from './sniff.js';
export { isNonPublicAddress } from './address-policy.js';
export { mmHash } from './mm-hash.js';
export { normalizeToPlanes } from './normalize.js';
