export * from './model-types.js';
export { ModelRunner, type ModelRunnerOptions, type SequenceChunk } from './runner/model-runner.js';
export { PagedKvCache } from './kv/kv-cache.js';
