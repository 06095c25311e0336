/**
 * A binary min-heap of (due time, customer id), ordered by time then id: the order in which a
 * partition's timers fire. Entries are never removed early; the engine skips an entry whose
 * customer's timer has moved since it was pushed (lazy deletion).
 */
export class TimerQueue {
  private readonly at: number[] = [];
  private readonly ids: string[] = [];

  get size(): number {
    return this.at.length;
  }

  push(at: number, customerId: string): void {
    this.at.push(at);
    this.ids.push(customerId);
    this.up(this.at.length - 1);
  }

  /** The earliest entry, or undefined when empty. */
  peek(): { at: number; customerId: string } | undefined {
    if (this.at.length === 0) return undefined;
    return { at: this.at[0] as number, customerId: this.ids[0] as string };
  }

  pop(): void {
    const last = this.at.length - 1;
    if (last < 0) return;
    this.swap(0, last);
    this.at.pop();
    this.ids.pop();
    if (last > 0) this.down(0);
  }

  private less(i: number, j: number): boolean {
    const a = this.at[i] as number;
    const b = this.at[j] as number;
    return a < b || (a === b && (this.ids[i] as string) < (this.ids[j] as string));
  }

  private swap(i: number, j: number): void {
    const at = this.at[i] as number;
    this.at[i] = this.at[j] as number;
    this.at[j] = at;
    const id = this.ids[i] as string;
    this.ids[i] = this.ids[j] as string;
    this.ids[j] = id;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.at.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < n && this.less(left, smallest)) smallest = left;
      if (right < n && this.less(right, smallest)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}
