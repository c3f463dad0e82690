/**
 * Open-loop arrival schedules: when each request is sent, fixed before the run starts, so a slow
 * server cannot slow the offered load down (a closed loop would hide queueing delay).
 *
 * burstiness = 1 is a Poisson process (exponential gaps). Otherwise the gaps are Gamma with
 * shape = burstiness and the same mean 1/rate: the coefficient of variation of the gaps is
 * 1/sqrt(burstiness), so burstiness < 1 clusters requests into bursts, > 1 evens them out.
 */
import { exponential, gamma, makeRng } from './random.js';

export interface ArrivalOptions {
  /** mean requests per second; Infinity sends everything at t = 0 */
  rate: number;
  burstiness?: number;
  count: number;
  seed: number;
}

/** Send offsets in seconds from the start of the run, non-decreasing, first one 0. */
export function arrivalOffsets(o: ArrivalOptions): number[] {
  const burstiness = o.burstiness ?? 1;
  if (!(o.rate > 0)) throw new Error(`rate must be > 0, got ${o.rate}`);
  if (!(burstiness > 0)) throw new Error(`burstiness must be > 0, got ${burstiness}`);
  const out: number[] = [];
  if (o.count <= 0) return out;
  if (o.rate === Infinity) return new Array<number>(o.count).fill(0);
  // A separate stream from the dataset's, so changing lengths does not move arrivals.
  const u = makeRng((o.seed ^ 0x5eed_a11) >>> 0);
  const mean = 1 / o.rate;
  let t = 0;
  out.push(0);
  for (let i = 1; i < o.count; i++) {
    t += burstiness === 1 ? exponential(u, mean) : gamma(u, burstiness, mean / burstiness);
    out.push(t);
  }
  return out;
}
