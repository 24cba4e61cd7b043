import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { validate, version } from "uuid"
import { IdGenerator } from "../src/index.js"

/** The Unix milliseconds in a UUID v7's first 48 bits. */
const msOf = (id: string) => parseInt(id.replace(/-/g, "").slice(0, 12), 16)

describe("IdGenerator", () => {
  it("makes RFC 9562 version 7 ids that carry the given time and sort in creation order", () => {
    const ids = IdGenerator.make()
    const made = Array.from({ length: 20_000 }, (_, i) => ids.unsafeNext(1_700_000_000_000 + Math.floor(i / 5000)))
    for (const id of made) {
      expect(validate(id)).toBe(true)
      expect(version(id)).toBe(7)
    }
    expect(new Set(made).size).toBe(made.length)
    expect([...made].sort()).toEqual(made)
    expect(msOf(made[0]!)).toBe(1_700_000_000_000)
    expect(msOf(made[made.length - 1]!)).toBe(1_700_000_000_003)
  })

  it("keeps its order when the clock goes back", () => {
    const ids = IdGenerator.make()
    const later = ids.unsafeNext(2_000)
    const earlier = ids.unsafeNext(1_000)
    expect(earlier > later).toBe(true)
    expect(msOf(earlier)).toBe(2_000)
  })

  it.effect("stamps ids with the Clock's time, so TestClock moves them", () =>
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      expect(msOf(yield* ids.next)).toBe(0)
      yield* TestClock.adjust("90 minutes")
      expect(msOf(yield* ids.next)).toBe(90 * 60_000)
    }).pipe(Effect.provide(IdGenerator.layer)))

  it.effect("a seeded generator gives the same ids for the same calls at the same times, another seed others", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        Effect.gen(function*() {
          const ids = yield* IdGenerator
          return [yield* ids.next, yield* ids.next, ids.unsafeNext(5_000)]
        }).pipe(Effect.provide(IdGenerator.seeded(seed)))
      const first = yield* run(42)
      expect(yield* run(42)).toEqual(first)
      expect(new Set(first).size).toBe(3)
      expect(yield* run(43)).not.toEqual(first)
    }))
})
