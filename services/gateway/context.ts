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
  maxWaitingRequests: number;
  media: MediaOptions;
}
