import type { Admission } from './admission.js';
import type { KeyAdmission } from './key-admission.js';
import type { MediaOptions } from '../media/index.js';
import type { GenerationBackend, ServedModel } from './backend.js';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayLimits } from './openai/index.js';

/** Everything a route needs, built once per gateway. */
export interface GatewayContext {
  backend: GenerationBackend;
  model: ServedModel;
  limits: GatewayLimits;
  metrics: GatewayMetrics;
  /** Running + waiting requests this gateway admits (exact count; admission.ts). */
  admission: Admission;
  /** Per-API-key request rate and concurrency (key-admission.ts), checked before `admission`. */
  keyLimits: KeyAdmission;
  media: MediaOptions;
}
