/** `floor(value × (10000 − marginBps) / 10000)`: a lower bound relaxed by the downgrade margin. */
export function relaxedBound(value: number, marginBps: number): number {
  return Math.floor((value * (10_000 - marginBps)) / 10_000);
}
