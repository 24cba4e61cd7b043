/**
 * The scheduler's limits in this process: the tasks running now (each takes a slot) and the
 * starts of the last rolling minute (each counts against `scheduler.rate_limit_per_minute`).
 */

/** The rate limit's window. */
export const WINDOW_MS = 60_000

/** The slots and the rolling minute; times are Clock millis. */
export class StartWindow {
  /** Tasks this process runs now (counted here, so a finished task frees its slot before admission is woken). */
  private readonly active = new Set<string>()
  /** Start times within the last window, oldest first. */
  private readonly starts: Array<number> = []

  /** Starts before a restart, oldest first: they count against the rate limit too. */
  constructor(earlier: ReadonlyArray<number> = []) {
    this.starts.push(...earlier)
  }

  /** Drops the starts that left the window by `now`; how many are left. */
  startsWithin(now: number): number {
    while (this.starts.length > 0 && this.starts[0]! <= now - WINDOW_MS) this.starts.shift()
    return this.starts.length
  }

  /** How many tasks run now. */
  get running(): number {
    return this.active.size
  }

  /** How long after `now` the oldest start leaves the window (at least 1 ms). */
  waitAfter(now: number): number {
    return Math.max(1, (this.starts[0] ?? now) + WINDOW_MS - now)
  }

  /** Task `id` started at `now`: it takes a slot and counts in the window. */
  started(id: string, now: number): void {
    this.starts.push(now)
    this.active.add(id)
  }

  /** Task `id` ended: its slot is free. */
  ended(id: string): void {
    this.active.delete(id)
  }
}
