import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import * as RunOnce from "../src/shared/RunOnce.js"

/** Lets the forked fibers run until `done` holds (a bounded number of turns; no clock). */
const settle = (done: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let turn = 0; turn < 100; turn++) {
      if (yield* done) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage("did not settle")
  })

describe("run once per key", () => {
  it.effect("a caller of a key that is running joins that run: the effect runs once and both get its result", () =>
    Effect.gen(function*() {
      const once = RunOnce.make<string, number, string>()
      const gate = yield* Deferred.make<void>()
      let runs = 0
      const work = Effect.gen(function*() {
        runs++
        yield* Deferred.await(gate)
        return runs * 10
      })
      const first = yield* Effect.fork(once.run("k", work))
      yield* settle(Effect.sync(() => runs === 1))
      const second = yield* Effect.fork(once.run("k", work))
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(first)).toBe(10)
      expect(yield* Fiber.join(second)).toBe(10)
      expect(runs).toBe(1)
    }))

  it.effect("different keys run apart", () =>
    Effect.gen(function*() {
      const once = RunOnce.make<string, string, never>()
      const gate = yield* Deferred.make<void>()
      const work = (key: string) => Effect.as(Deferred.await(gate), key)
      const a = yield* Effect.fork(once.run("a", work("a")))
      const b = yield* Effect.fork(once.run("b", work("b")))
      yield* settle(Effect.map(once.held, (keys) => keys.length === 2))
      yield* Deferred.succeed(gate, undefined)
      expect([yield* Fiber.join(a), yield* Fiber.join(b)]).toEqual(["a", "b"])
    }))

  it.effect("a success is held until holdUntil ends; after that the key runs anew", () =>
    Effect.gen(function*() {
      const once = RunOnce.make<string, number, never>()
      const hold = yield* Deferred.make<void>()
      let runs = 0
      const work = Effect.sync(() => ++runs)
      expect(yield* once.run("k", work, () => Deferred.await(hold))).toBe(1)
      // held: a later caller gets the first result without running
      expect(yield* once.run("k", work)).toBe(1)
      expect(runs).toBe(1)
      yield* Deferred.succeed(hold, undefined)
      yield* settle(Effect.map(once.held, (keys) => keys.length === 0))
      expect(yield* once.run("k", work)).toBe(2)
      // without holdUntil a success is released at once
      expect(yield* once.run("k", work)).toBe(3)
    }))

  it.effect("a failure reaches every caller of its run and releases the key at once", () =>
    Effect.gen(function*() {
      const once = RunOnce.make<string, number, string>()
      const gate = yield* Deferred.make<void>()
      let runs = 0
      const failing = Effect.zipRight(Effect.sync(() => runs++), Effect.zipRight(Deferred.await(gate), Effect.fail("broken")))
      const first = yield* Effect.fork(once.run("k", failing, () => Effect.never))
      yield* settle(Effect.sync(() => runs === 1))
      const second = yield* Effect.fork(once.run("k", failing))
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.await(first)).toEqual(Exit.fail("broken"))
      expect(yield* Fiber.await(second)).toEqual(Exit.fail("broken"))
      expect(yield* once.held).toEqual([])
      expect(yield* once.run("k", Effect.succeed(7))).toBe(7)
      expect(runs).toBe(1)
    }))
})
