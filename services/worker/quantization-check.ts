import type { KeyValueBucket } from '../bus/bus.js';
import { decodeJson } from '../bus/json.js';
import { legacyQuantLayout, type QuantRotation, type Quantization } from '../protocol/quantization.js';
import type { WorkerRecord, WorkerRole } from '../protocol/registry.js';

/** Roles whose KV the text model computes: they must all share one quantization setting. */
const TEXT_KV_ROLES: readonly WorkerRole[] = ['prefill-text', 'decode-text', 'unified'];

export class QuantizationMismatchError extends Error {}

/**
 * Refuses to join a registry whose text workers of the same model quantize differently: a prefill
 * worker's KV is only valid for a decode worker running the very same weights. Prefill-Vision
 * workers are exempt (the vision encoder stays bf16 and sends embeddings, not KV).
 */
export async function checkQuantizationMatches(
  registry: KeyValueBucket,
  me: { id: string; role: WorkerRole; model: string; quantization: Quantization; quantRotation?: QuantRotation; quantLayout?: string },
): Promise<void> {
  if (!TEXT_KV_ROLES.includes(me.role)) return;
  for (const entry of await registry.entries()) {
    let peer: WorkerRecord;
    try {
      peer = decodeJson<WorkerRecord>(entry.value);
    } catch {
      continue;
    }
    if (peer.id === me.id || peer.model !== me.model || !TEXT_KV_ROLES.includes(peer.role)) continue;
    const theirs = peer.quantization ?? 'none';
    if (theirs !== me.quantization) {
      throw new QuantizationMismatchError(
        `this ${me.role} worker uses --quantization ${me.quantization}, but ${peer.role} worker ${peer.id} of ${me.model} ` +
          `in the same cluster uses ${theirs}: prefill and decode workers must use the same setting (their KV would not match). ` +
          `Start it with --quantization ${theirs}, or use another --cluster-name.`,
      );
    }
    const theirRotation = peer.quantRotation ?? 'none';
    const myRotation = me.quantRotation ?? 'none';
    if (theirRotation !== myRotation) {
      throw new QuantizationMismatchError(
        `this ${me.role} worker's ${me.quantization} weights are rotated '${myRotation}', but ${peer.role} worker ${peer.id} of ${me.model} ` +
          `uses '${theirRotation}' (a pre-quantized checkpoint written before rotation, or after it): their KV would not match. ` +
          `Serve the same checkpoint on both, or quantize the bf16 checkpoint at load on both.`,
      );
    }
    const theirLayout = peer.quantLayout ?? legacyQuantLayout(theirs);
    const myLayout = me.quantLayout ?? legacyQuantLayout(me.quantization);
    if (theirLayout !== myLayout) {
      throw new QuantizationMismatchError(
        `this ${me.role} worker's ${me.quantization} weights have layout '${myLayout}' (group size, zero points, LM head bits), but ${peer.role} worker ${peer.id} ` +
          `of ${me.model} uses '${theirLayout}' (a pre-quantized checkpoint or a Tandem version with another layout): their KV would not match. ` +
          `Serve the same checkpoint with the same Tandem version on both, or quantize the bf16 checkpoint at load on both.`,
      );
    }
  }
}
