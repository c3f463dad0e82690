export * from './gen-model.js';
export * from './presets.js';
export * from '../../services/cli/progress-bar.js';
export { Rng, bf16Normal, f32Normal } from './random.js';
