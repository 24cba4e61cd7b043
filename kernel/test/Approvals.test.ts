import { describe, expect, it } from "@effect/vitest"
import { Approvals, ApprovalsDecide, Configuration, Kernel, Rebuild } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect, Either, Fiber, TestClock } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { approvalsProjection } from "../src/approvals/projection.js"
import { scratchViews } from "./scratchViews.js"

const { decideRequest, decideResolve } = ApprovalsDecide

const kernel = (dataDir: string) =>
  Kernel.layer({ store: { filename: join(dataDir, "annal.db"), synchronous: "NORMAL" }, dataDir, resourceSampleIntervalSecs: 60 })
const tempDir = () => mkdtempSync(join(tmpdir(), "annal-approvals-"))

const T0 = Date.parse("2026-01-01T00:00:00.000Z")
const ask = { subject: "agent:builder", action: "use_tool:exec", resource: "scripts/deploy.sh", reason: "deploy" }
const user = { actor: "user:api" }

describe("approval decisions", () => {
  it("a request expires timeout seconds after now", () => {
    expect(decideRequest("id-1", ask, 300, T0)).toEqual({ id: "id-1", ...ask, timeout_secs: 300, expires_at: "2026-01-01T00:05:00.000Z" })
  })

  it("resolves only a pending approval, and a decision after the deadline expires it", () => {
    const pending = { id: "x", status: "pending" as const, expires_at: "2026-01-01T00:05:00.000Z", version: 1 }
    expect(decideResolve(pending, "x", "approved", "user:api", T0)).toEqual(Either.right({ id: "x", resolution: "approved", by: "user:api" }))
    expect(decideResolve(pending, "x", "rejected", "user:api", T0 + 300_000)).toEqual(Either.right({ id: "x", resolution: "expired", by: "system" }))
    expect(decideResolve(pending, "x", "expired", "system", T0 + 300_000)).toEqual(Either.right({ id: "x", resolution: "expired", by: "system" }))
    const done = decideResolve({ ...pending, status: "approved" }, "x", "rejected", "user:api", T0)
    expect(Either.isLeft(done) && done.left.message).toBe("pending approval not found: x")
    const unknown = decideResolve(undefined, "x", "approved", "user:api", T0)
    expect(Either.isLeft(unknown) && unknown.left.message).toBe("approval not found: x")
  })
})

describe("approvals projection", () => {
  it("keeps every approval with its status and who resolved it when", () => {
    const views = scratchViews(approvalsProjection)
    views.apply("approval_requested", decideRequest("x", ask, 60, T0))
    views.apply("approval_requested", decideRequest("y", ask, 60, T0))
    views.apply("approval_resolved", { id: "x", resolution: "rejected", by: "user:api" })
    expect(views.db.all("SELECT id, seq, created_at, status, resolved_at, resolved_by FROM approvals ORDER BY seq")).toEqual([
      { id: "x", seq: 1, created_at: "2026-01-01T00:00:01.000Z", status: "rejected", resolved_at: "2026-01-01T00:00:03.000Z", resolved_by: "user:api" },
      { id: "y", seq: 2, created_at: "2026-01-01T00:00:02.000Z", status: "pending", resolved_at: null, resolved_by: null }
    ])
    views.close()
  })
})

describe("Approvals service", () => {
  it.live("the requester waits for the decision; a decided approval cannot be decided again", () =>
    Effect.gen(function*() {
      const approvals = yield* Approvals
      const first = yield* approvals.request(ask, { actor: "agent:builder" })
      const waiter = yield* Effect.fork(first.decision)
      yield* Effect.sleep("50 millis")
      expect(waiter.unsafePoll()).toBeNull()
      yield* approvals.approve(first.id, user)
      expect(yield* Fiber.join(waiter)).toBe("approved")
      expect(yield* approvals.await(first.id)).toBe("approved")
      const again = yield* Effect.either(approvals.reject(first.id, user))
      expect(Either.isLeft(again) && again.left.message).toBe(`pending approval not found: ${first.id}`)

      const second = yield* approvals.request({ ...ask, action: "use_tool:write" }, { actor: "agent:builder" })
      yield* approvals.reject(second.id, user)
      expect(yield* second.decision).toBe("rejected")

      // the configured timeout applies when the caller names none
      const third = yield* approvals.request(ask, { actor: "agent:builder" })
      const listed = yield* approvals.list({})
      expect(listed.map((a) => [a.id, a.status])).toEqual([[third.id, "pending"], [second.id, "rejected"], [first.id, "approved"]])
      const row = yield* approvals.get(third.id)
      expect(Date.parse(row.expires_at) - Date.parse(row.created_at)).toBeGreaterThan(299_000)
      expect(Date.parse(row.expires_at) - Date.parse(row.created_at)).toBeLessThanOrEqual(300_000)
      expect((yield* approvals.get(first.id))).toMatchObject({ status: "approved", resolved_by: "user:api", ...ask })
      expect((yield* approvals.list({ status: "pending" })).map((a) => a.id)).toEqual([third.id])
      expect((yield* approvals.list({ limit: 1 })).map((a) => a.id)).toEqual([third.id])

      // a retried approve (same Idempotency-Key) answers as the first time, appending nothing
      const store = yield* EventStore
      const keyed = { actor: "user:api", meta: { idempotency_key: "approve-once" } }
      yield* approvals.approve(third.id, keyed)
      const head = (yield* store.head).seq
      yield* approvals.approve(third.id, keyed)
      expect((yield* store.head).seq).toBe(head)
      expect(yield* third.decision).toBe("approved")
    }).pipe(Effect.provide(kernel(tempDir()))))

  // on the TestClock: the deadline passes when the test moves time, not after a real wait
  it.effect("a pending approval expires at its deadline, from the configured timeout, and then cannot be approved", () =>
    Effect.gen(function*() {
      const approvals = yield* Approvals
      yield* (yield* Configuration).update({ approvals: { timeout_secs: 30 } }, user)
      const pending = yield* approvals.request(ask, { actor: "agent:builder" })
      const asked = yield* approvals.get(pending.id)
      expect(Date.parse(asked.expires_at) - Date.parse(asked.created_at)).toBe(30_000)
      const decision = yield* Effect.fork(pending.decision)
      yield* TestClock.adjust("29 seconds")
      expect((yield* approvals.get(pending.id)).status).toBe("pending")
      expect(decision.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(decision)).toBe("expired")
      const row = yield* approvals.get(pending.id)
      expect(row).toMatchObject({ status: "expired", resolved_by: "system" })
      expect(Date.parse(row.resolved_at!)).toBeGreaterThanOrEqual(Date.parse(row.expires_at))
      expect(Either.isLeft(yield* Effect.either(approvals.approve(pending.id, user)))).toBe(true)
    }).pipe(Effect.provide(kernel(tempDir()))))

  it.effect("pending approvals survive a restart: re-armed, decidable, and expired at once when past their deadline; views rebuild equal", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const ids = yield* Effect.gen(function*() {
        const approvals = yield* Approvals
        const long = yield* approvals.request({ ...ask, timeoutSecs: 600 }, { actor: "agent:builder" })
        const short = yield* approvals.request({ ...ask, timeoutSecs: 1 }, { actor: "agent:builder" })
        const later = yield* approvals.request({ ...ask, timeoutSecs: 6 }, { actor: "agent:builder" })
        return { long: long.id, short: short.id, later: later.id }
      }).pipe(Effect.provide(kernel(dir)))
      // closed before any deadline passed: the short one is still pending in the log
      yield* TestClock.adjust("1200 millis")

      yield* Effect.gen(function*() {
        const approvals = yield* Approvals
        expect(yield* approvals.await(ids.short)).toBe("expired")
        expect((yield* approvals.get(ids.later)).status).toBe("pending")
        const later = yield* Effect.fork(approvals.await(ids.later))
        yield* TestClock.adjust("4 seconds")
        expect((yield* approvals.get(ids.later)).status).toBe("pending")
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(later)).toBe("expired")
        const waiting = yield* Effect.fork(approvals.await(ids.long))
        yield* approvals.approve(ids.long, user)
        expect(yield* Fiber.join(waiting)).toBe("approved")
        const report = yield* Rebuild.rebuild(Kernel.projections)
        expect(report.tables.find((t) => t.table === "approvals")!.live.rows).toBe(3)
        expect(report.equal).toBe(true)
      }).pipe(Effect.provide(kernel(dir)))
    }))
})
