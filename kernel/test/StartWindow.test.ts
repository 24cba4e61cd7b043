import { describe, expect, it } from "vitest"
import { StartWindow, WINDOW_MS } from "../src/scheduler/startWindow.js"

describe("the scheduler's slots and rolling minute", () => {
  it("a start counts for one window, and the wait is until the oldest start leaves it", () => {
    const window = new StartWindow([1_000])
    window.started("a", 20_000)
    expect(window.startsWithin(30_000)).toBe(2)
    expect(window.waitAfter(30_000)).toBe(1_000 + WINDOW_MS - 30_000)
    // the start at 1 s leaves the window at 61 s exactly
    expect(window.startsWithin(1_000 + WINDOW_MS)).toBe(1)
    expect(window.waitAfter(1_000 + WINDOW_MS)).toBe(20_000 - 1_000)
    expect(window.startsWithin(20_000 + WINDOW_MS)).toBe(0)
  })

  it("a started task takes a slot until it ends; starts before a restart take none", () => {
    const window = new StartWindow([5, 6])
    expect(window.running).toBe(0)
    window.started("a", 10)
    window.started("b", 11)
    expect(window.running).toBe(2)
    window.ended("a")
    expect(window.running).toBe(1)
    // the ended task's start still counts against the rate
    expect(window.startsWithin(12)).toBe(4)
  })
})
