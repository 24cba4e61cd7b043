import { describe, expect, it } from "@effect/vitest"
import { Budgets, BudgetsDecide, Kernel, Rebuild } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect, Either, TestClock } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { budgetsProjection } from "../src/budgets/projection.js"
import { scratchViews } from "./scratchViews.js"

const { decideCharge, decideRemove, decideReserve, decideReset, decideSet, statusAt } = BudgetsDecide
type BudgetState = BudgetsDecide.BudgetState

const kernel = (dataDir: string) =>
  Kernel.layer({ store: { filename: join(dataDir, "annal.db"), synchronous: "NORMAL" }, dataDir, resourceSampleIntervalSecs: 60 })
const tempDir = () => mkdtempSync(join(tmpdir(), "annal-budgets-"))

const T0 = Date.parse("2026-01-01T00:00:00.000Z")
const state = (over: Partial<BudgetState> = {}): BudgetState => ({
  agent_id: "a",
  token_budget: 1000,
  calls_budget: 10,
  window_secs: 60,
  window_started_at: new Date(T0).toISOString(),
  used_tokens: 0,
  used_calls: 0,
  version: 1,
  ...over
})

describe("budget decisions", () => {
  it("reports what is left in the running window", () => {
    expect(statusAt(state({ used_tokens: 400, used_calls: 3 }), T0 + 20_500)).toEqual({
      agent_id: "a",
      tokens_remaining: 600,
      calls_remaining: 7,
      window_remaining_secs: 40,
      is_exhausted: false,
      stream: "budget-a"
    })
    expect(statusAt(state({ used_tokens: 1000 }), T0 + 1000).is_exhausted).toBe(true)
    expect(statusAt(state({ used_calls: 10 }), T0 + 1000).is_exhausted).toBe(true)
  })

  it("counts an ended window as the full allocation waiting to start", () => {
    expect(statusAt(state({ used_tokens: 1000, used_calls: 10 }), T0 + 60_000)).toEqual({
      agent_id: "a",
      tokens_remaining: 1000,
      calls_remaining: 10,
      window_remaining_secs: 60,
      is_exhausted: false,
      stream: "budget-a"
    })
  })

  it("reserves up to the budget exactly, then refuses naming what is left", () => {
    expect(decideReserve(state({ used_tokens: 900 }), "a", { tokens: 100, calls: 1 }, T0 + 1)).toEqual(
      Either.right({ agent_id: "a", tokens: 100, calls: 1, new_window: false })
    )
    const over = decideReserve(state({ used_tokens: 901 }), "a", { tokens: 100, calls: 1 }, T0 + 1)
    expect(Either.isLeft(over) && over.left).toMatchObject({
      _tag: "Exhausted",
      message: `budget exhausted: agent "a" has 99 of 1000 tokens left in this window, 100 requested`
    })
    const calls = decideReserve(state({ used_calls: 10 }), "a", { tokens: 0, calls: 1 }, T0 + 1)
    expect(Either.isLeft(calls) && calls.left.message).toBe(`budget exhausted: agent "a" has 0 of 10 calls left in this window, 1 requested`)
    const none = decideReserve(undefined, "a", { tokens: 1, calls: 1 }, T0)
    expect(Either.isLeft(none) && none.left._tag).toBe("EntityNotFound")
  })

  it("starts a new window at the first reservation after the previous one ended", () => {
    const exhausted = state({ used_tokens: 1000, used_calls: 10 })
    expect(Either.isLeft(decideReserve(exhausted, "a", { tokens: 1, calls: 1 }, T0 + 59_999))).toBe(true)
    expect(decideReserve(exhausted, "a", { tokens: 1000, calls: 1 }, T0 + 60_000)).toEqual(
      Either.right({ agent_id: "a", tokens: 1000, calls: 1, new_window: true })
    )
    expect(Either.isLeft(decideReserve(exhausted, "a", { tokens: 1001, calls: 1 }, T0 + 60_000))).toBe(true)
  })

  it("charges real usage without refusing, and only what was not reserved", () => {
    expect(decideCharge(state(), "a", { tokens: 120, calls: 0, releasedTokens: 100 }, T0 + 1)).toEqual({
      agent_id: "a",
      tokens: 120,
      calls: 0,
      released_tokens: 100,
      new_window: false
    })
    expect(decideCharge(state({ used_tokens: 1000 }), "a", { tokens: 5000, calls: 1, releasedTokens: 0 }, T0 + 1)?.tokens).toBe(5000)
    expect(decideCharge(undefined, "a", { tokens: 1, calls: 1, releasedTokens: 0 }, T0)).toBeUndefined()
    expect(decideCharge(state(), "a", { tokens: 0, calls: 0, releasedTokens: 0 }, T0)).toBeUndefined()
  })

  it("sets, removes and resets only what exists", () => {
    expect(decideSet("a", { token_budget: 5, calls_budget: 1, window_secs: 9 })).toEqual({ agent_id: "a", token_budget: 5, calls_budget: 1, window_secs: 9 })
    expect(Either.isLeft(decideRemove(undefined, "a"))).toBe(true)
    expect(Either.isLeft(decideReset(undefined, "a"))).toBe(true)
    expect(decideReset(state(), "a")).toEqual(Either.right({ agent_id: "a" }))
  })
})

describe("budgets projection", () => {
  it("derives the window from the events' times and keeps usage per window", () => {
    const views = scratchViews(budgetsProjection)
    const row = () => views.db.get<Record<string, unknown>>("SELECT window_started_at, used_tokens, used_calls, version FROM budgets WHERE agent_id = 'a'")
    views.apply("budget_set", { agent_id: "a", token_budget: 1000, calls_budget: 10, window_secs: 60 })
    views.apply("budget_reserved", { agent_id: "a", tokens: 300, calls: 1, new_window: false })
    views.apply("budget_charged", { agent_id: "a", tokens: 250, calls: 0, released_tokens: 300, new_window: false })
    expect(row()).toEqual({ window_started_at: "2026-01-01T00:00:01.000Z", used_tokens: 250, used_calls: 1, version: 3 })
    views.apply("budget_reserved", { agent_id: "a", tokens: 100, calls: 1, new_window: true })
    expect(row()).toEqual({ window_started_at: "2026-01-01T00:00:04.000Z", used_tokens: 100, used_calls: 1, version: 4 })
    // releasing more than is used never goes below zero
    views.apply("budget_charged", { agent_id: "a", tokens: 0, calls: 0, released_tokens: 500, new_window: false })
    expect(row()?.used_tokens).toBe(0)
    views.apply("budget_reserved", { agent_id: "a", tokens: 700, calls: 2, new_window: false })
    views.apply("budget_reset", { agent_id: "a" })
    expect(row()).toEqual({ window_started_at: "2026-01-01T00:00:07.000Z", used_tokens: 0, used_calls: 0, version: 7 })
    views.apply("budget_removed", { agent_id: "a" })
    expect(row()).toBeUndefined()
    views.close()
  })
})

describe("Budgets service", () => {
  // on the TestClock: the one-second window ends when the test moves time, not when a loaded machine happens to
  it.effect("never overspends under concurrent reservations; usage, windows and the view survive a restart and rebuild equal", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const ctx = { actor: "agent:a" }
      yield* Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set("a", { token_budget: 1000, calls_budget: 100, window_secs: 3600 }, { actor: "user:api" })
        const results = yield* Effect.all(
          Array.from({ length: 50 }, () => Effect.either(budgets.reserve("a", { tokens: 100, calls: 1 }, ctx))),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Either.isRight)).toHaveLength(10)
        const refused = results.filter(Either.isLeft).map((r) => r.left._tag)
        expect(refused).toEqual(Array.from({ length: 40 }, () => "Exhausted"))
        expect(yield* budgets.get("a")).toMatchObject({ tokens_remaining: 0, calls_remaining: 90, is_exhausted: true })

        // real usage: 100 were reserved for a call that used 60
        yield* budgets.charge("a", { tokens: 60, calls: 0, reservedTokens: 100 }, ctx)
        expect((yield* budgets.get("a")).tokens_remaining).toBe(40)
        // an agent without a budget is not limited, and charging it records nothing
        const store = yield* EventStore
        const head = (yield* store.head).seq
        yield* budgets.charge("nobody", { tokens: 60, calls: 1 }, ctx)
        expect((yield* store.head).seq).toBe(head)
        expect(Either.isLeft(yield* Effect.either(budgets.reserve("nobody", { tokens: 1, calls: 1 }, ctx)))).toBe(true)

        // a one-second window ends, and the next reservation opens a new one
        yield* budgets.set("b", { token_budget: 10, calls_budget: 10, window_secs: 1 }, { actor: "user:api" })
        yield* budgets.reserve("b", { tokens: 10, calls: 1 }, ctx)
        expect(Either.isLeft(yield* Effect.either(budgets.reserve("b", { tokens: 1, calls: 1 }, ctx)))).toBe(true)
        yield* TestClock.adjust("1100 millis")
        expect(yield* budgets.get("b")).toMatchObject({ tokens_remaining: 10, window_remaining_secs: 1, is_exhausted: false })
        yield* budgets.reserve("b", { tokens: 4, calls: 1 }, ctx)
        expect(yield* budgets.get("b")).toMatchObject({ tokens_remaining: 6, calls_remaining: 9 })
      }).pipe(Effect.provide(kernel(dir)))

      yield* Effect.gen(function*() {
        const budgets = yield* Budgets
        expect(yield* budgets.get("a")).toMatchObject({ tokens_remaining: 40, calls_remaining: 90 })
        expect((yield* budgets.get("b")).tokens_remaining).toBe(6)
        yield* budgets.reset("a", { actor: "user:api" })
        expect(yield* budgets.get("a")).toMatchObject({ tokens_remaining: 1000, calls_remaining: 100, is_exhausted: false })
        yield* budgets.remove("b", { actor: "user:api" })
        expect(Either.isLeft(yield* Effect.either(budgets.get("b")))).toBe(true)
        const report = yield* Rebuild.rebuild(Kernel.projections)
        expect(report.tables.find((t) => t.table === "budgets")!.live.rows).toBe(1)
        expect(report.equal).toBe(true)
      }).pipe(Effect.provide(kernel(dir)))
    }))
})
