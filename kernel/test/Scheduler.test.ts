import { describe, expect, it } from "@effect/vitest"
import { Configuration, EntityNotFound, InvalidCommand, Kernel, NOT_CONFIGURED, Scheduler, SchedulerDecide, SchedulerEvents, TaskRunFailed, TaskRunner } from "@annal/kernel"
import { EventStore, type StoredEvent } from "@annal/store"
import { Effect, Either, Layer, TestClock } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { eventually, realPause } from "./support.js"

const tempDb = () => join(mkdtempSync(join(tmpdir(), "annal-scheduler-")), "annal.db")

const kernel = (filename: string, taskRunner?: Layer.Layer<TaskRunner>) =>
  Kernel.layer({ store: { filename, synchronous: "NORMAL" }, dataDir: dirname(filename), resourceSampleIntervalSecs: 60, taskRunner })

const user = { actor: "user:test" }

/**
 * A runner for tests: records the goals it starts and how many run at once; a goal starting with
 * `block` waits until `release()`, one starting with `fail` fails.
 */
const testRunner = () => {
  const state = { started: [] as Array<string>, running: 0, peak: 0 }
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => (open = resolve))
  const layer = Layer.succeed(
    TaskRunner,
    TaskRunner.of({
      name: "test",
      unavailable: Effect.succeed(undefined),
      run: (task) =>
        Effect.gen(function*() {
          state.started.push(task.goal)
          state.running++
          state.peak = Math.max(state.peak, state.running)
          yield* Effect.ensuring(
            task.goal.startsWith("block") ? Effect.promise(() => gate) : Effect.void,
            Effect.sync(() => state.running--)
          )
          if (task.goal.startsWith("fail")) return yield* new TaskRunFailed({ message: `failed on purpose: ${task.goal}` })
          return { summary: `did ${task.goal}` }
        })
    })
  )
  return { state, layer, release: () => open() }
}


const submit = (goal: string, priority: "Low" | "Normal" | "High" | "Critical" = "Normal") =>
  Effect.flatMap(Scheduler, (s) => s.submit({ description: goal, goal, priority, source: { kind: "api", id: null } }, user))

const setLimits = (scheduler: { max_concurrent?: number; rate_limit_per_minute?: number }) =>
  Effect.flatMap(Configuration, (c) => c.update({ scheduler }, user))

const stats = Effect.flatMap(Scheduler, (s) => s.stats)
const idle = (s: { queued: number; running: number }) => s.queued === 0 && s.running === 0

const event = (type: string, data: Record<string, unknown>, seq: number, version: number): StoredEvent => ({
  seq,
  id: `e${seq}`,
  stream: `task-${String(data.id)}`,
  version,
  type,
  actor: "system",
  at: `2026-01-01T00:00:0${seq}.000Z`,
  data,
  meta: {},
  prev_hash: "",
  hash: ""
})

const submitted = {
  id: "t1",
  description: "d",
  goal: "g",
  constraints: ["c"],
  acceptance_criteria: ["a"],
  toolchain: "default",
  priority: "High" as const,
  source: { kind: "cron" as const, id: "job-1" }
}

describe("scheduler decisions (pure)", () => {
  it("walks a task through its life and refuses transitions from the wrong status", () => {
    const s1 = SchedulerDecide.evolve(undefined, event(SchedulerEvents.TASK_SUBMITTED, submitted, 4, 1))!
    expect(s1).toMatchObject({ id: "t1", status: "Queued", seq: 4, version: 1, created_at: "2026-01-01T00:00:04.000Z", priority: "High" })
    expect(Either.isLeft(SchedulerDecide.decideSubmit(s1, submitted))).toBe(true)
    expect(Either.isLeft(SchedulerDecide.decideEnd(s1, { _tag: "Completed", summary: "x" }))).toBe(true)
    expect(SchedulerDecide.decideStart(s1, "r")).toEqual(Either.right({ type: "task_started", data: { id: "t1", runner: "r" } }))
    const s2 = SchedulerDecide.evolve(s1, event(SchedulerEvents.TASK_STARTED, { id: "t1", runner: "r" }, 5, 2))!
    expect(s2).toMatchObject({ status: "Running", started_at: "2026-01-01T00:00:05.000Z", version: 2 })
    expect(Either.isLeft(SchedulerDecide.decideStart(s2, "r"))).toBe(true)
    const s3 = SchedulerDecide.evolve(s2, event(SchedulerEvents.TASK_FAILED, { id: "t1", error: "boom" }, 6, 3))!
    expect(s3).toMatchObject({ status: "Failed", error: "boom", finished_at: "2026-01-01T00:00:06.000Z" })
    const refused = SchedulerDecide.decideCancel(s3, "why")
    expect(Either.isLeft(refused) && refused.left).toBeInstanceOf(InvalidCommand)
    expect(Either.isRight(SchedulerDecide.decideCancel(s1, "why"))).toBe(true)
    expect(Either.isRight(SchedulerDecide.decideCancel(s2, "why"))).toBe(true)
  })

  it("refuses an empty goal and ranks priorities", () => {
    expect(Either.isLeft(SchedulerDecide.decideSubmit(undefined, { ...submitted, goal: "  " }))).toBe(true)
    const { Critical, High, Low, Normal } = SchedulerDecide.PRIORITY_RANK
    expect([Low, Normal, High, Critical]).toEqual([0, 1, 2, 3])
  })
})

describe("the scheduler with a runner", () => {
  it.live("admits by priority, first come first served within a priority", () => {
    const runner = testRunner()
    return Effect.gen(function*() {
      yield* setLimits({ max_concurrent: 1 })
      yield* submit("block")
      yield* eventually(stats, (s) => s.running === 1)
      for (const [goal, priority] of [["low", "Low"], ["normal-a", "Normal"], ["high", "High"], ["critical", "Critical"], ["normal-b", "Normal"]] as const) {
        yield* submit(goal, priority)
      }
      const listed = yield* (yield* Scheduler).tasks()
      expect(listed.queued.map((t) => t.description)).toEqual(["critical", "high", "normal-a", "normal-b", "low"])
      expect(listed.running.map((t) => t.description)).toEqual(["block"])
      expect(listed.running[0]).toMatchObject({ status: "Running", error: null, source: { kind: "api", id: null } })
      runner.release()
      yield* eventually(stats, idle)
      expect(runner.state.started).toEqual(["block", "critical", "high", "normal-a", "normal-b", "low"])
      expect(runner.state.peak).toBe(1)
    }).pipe(Effect.provide(kernel(tempDb(), runner.layer)))
  })

  it.live("runs at most max_concurrent at once and records how each ended", () => {
    const runner = testRunner()
    return Effect.gen(function*() {
      yield* setLimits({ max_concurrent: 2 })
      const tasks = []
      for (let i = 0; i < 5; i++) tasks.push(yield* submit(`block-${i}`))
      const failing = yield* submit("fail-now", "Low")
      const busy = yield* eventually(stats, (s) => s.running === 2)
      expect(busy).toMatchObject({ queued: 4, running: 2, max_concurrent: 2 })
      // nothing more starts while both slots are taken
      yield* realPause(300)
      expect((yield* stats).running).toBe(2)
      expect(runner.state.peak).toBe(2)
      runner.release()
      yield* eventually(stats, idle)
      expect(runner.state.peak).toBe(2)
      const scheduler = yield* Scheduler
      for (const t of tasks) {
        const done = yield* scheduler.get(t.id)
        expect(done).toMatchObject({ status: "Completed", summary: `did ${t.goal}`, error: null })
        expect(Date.parse(done.finished_at!)).toBeGreaterThanOrEqual(Date.parse(done.started_at!))
      }
      expect(yield* scheduler.get(failing.id)).toMatchObject({ status: "Failed", error: "failed on purpose: fail-now" })
      const events = yield* (yield* EventStore).readStream(`task-${failing.id}`)
      expect(events.map((e) => e.type)).toEqual(["task_submitted", "task_started", "task_failed"])
      // one way to start: each task is submitted (by its caller) and then started by the scheduler
      const store = yield* EventStore
      for (const t of tasks) {
        const [sub, start] = yield* store.readStream(`task-${t.id}`)
        expect([sub!.type, start!.type]).toEqual(["task_submitted", "task_started"])
        expect(start!.seq).toBeGreaterThan(sub!.seq)
        expect([sub!.actor, start!.actor]).toEqual(["user:test", "system:scheduler"])
      }
    }).pipe(Effect.provide(kernel(tempDb(), runner.layer)))
  })

  it.effect("starts at most rate_limit_per_minute tasks per rolling minute, then the rest when the window moves", () => {
    const runner = testRunner()
    return Effect.gen(function*() {
      yield* setLimits({ max_concurrent: 10, rate_limit_per_minute: 3 })
      for (let i = 0; i < 5; i++) yield* submit(`quick-${i}`)
      yield* eventually(Effect.sync(() => runner.state.started.length), (n) => n === 3)
      yield* realPause(300)
      expect(runner.state.started).toEqual(["quick-0", "quick-1", "quick-2"])
      expect(yield* stats).toEqual({ queued: 2, running: 0, max_concurrent: 10, rate_limit_per_minute: 3, rate_remaining: 0 })
      yield* TestClock.adjust("59 seconds")
      yield* realPause(200)
      expect(runner.state.started.length).toBe(3)
      yield* TestClock.adjust("2 seconds")
      yield* eventually(stats, idle)
      expect(runner.state.started).toEqual(["quick-0", "quick-1", "quick-2", "quick-3", "quick-4"])
      expect((yield* stats).rate_remaining).toBe(1)
    }).pipe(Effect.provide(kernel(tempDb(), runner.layer)))
  })

  it.live("cancels a queued task, and a running one by interrupting it", () => {
    const runner = testRunner()
    return Effect.gen(function*() {
      yield* setLimits({ max_concurrent: 1 })
      const scheduler = yield* Scheduler
      const running = yield* submit("block-cancel-me")
      const queued = yield* submit("queued-cancel-me")
      const after = yield* submit("after")
      yield* eventually(stats, (s) => s.running === 1)
      const cancelled = yield* scheduler.cancel(queued.id, "not needed", user)
      expect(cancelled).toMatchObject({ status: "Cancelled", error: "cancelled: not needed" })
      expect((yield* scheduler.tasks()).queued.map((t) => t.id)).toEqual([after.id])
      yield* scheduler.cancel(running.id, "stop it", user)
      // the runner was interrupted and the freed slot runs the next task
      yield* eventually(stats, idle)
      expect(runner.state.running).toBe(0)
      expect(yield* scheduler.get(running.id)).toMatchObject({ status: "Cancelled", error: "cancelled: stop it" })
      expect(yield* scheduler.get(after.id)).toMatchObject({ status: "Completed" })
      expect(runner.state.started).toEqual(["block-cancel-me", "after"])
      const again = yield* Effect.flip(scheduler.cancel(running.id, "again", user))
      expect(again).toBeInstanceOf(InvalidCommand)
      expect(yield* Effect.flip(scheduler.cancel("no-such-task", "x", user))).toBeInstanceOf(EntityNotFound)
      const events = yield* (yield* EventStore).readStream(`task-${running.id}`)
      expect(events.map((e) => e.type)).toEqual(["task_submitted", "task_started", "task_cancelled"])
    }).pipe(Effect.provide(kernel(tempDb(), runner.layer)))
  })
})

describe("the scheduler without a runtime", () => {
  it.live("keeps tasks queued and visible; they survive a restart and run once a runner exists", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const ids = yield* Effect.gen(function*() {
        const a = yield* submit("first low", "Low")
        const b = yield* submit("then critical", "Critical")
        yield* realPause(200)
        const s = yield* Scheduler
        expect(yield* stats).toMatchObject({ queued: 2, running: 0, max_concurrent: 2, rate_limit_per_minute: 60, rate_remaining: 60 })
        expect((yield* s.tasks()).queued.map((t) => t.id)).toEqual([b.id, a.id])
        // the default runner is the supervisor's, and with no model it runs nothing
        expect(yield* s.runner).toEqual({ name: "agent-supervisor", unavailable: NOT_CONFIGURED })
        expect(yield* s.position(a.id)).toBe(2)
        return [b.id, a.id]
      }).pipe(Effect.provide(kernel(filename)))

      const again = yield* Effect.gen(function*() {
        return (yield* (yield* Scheduler).tasks()).queued.map((t) => t.id)
      }).pipe(Effect.provide(kernel(filename)))
      expect(again).toEqual(ids)

      const runner = testRunner()
      yield* Effect.gen(function*() {
        yield* setLimits({ max_concurrent: 1 })
        yield* eventually(stats, idle)
        expect(runner.state.started).toEqual(["then critical", "first low"])
      }).pipe(Effect.provide(kernel(filename, runner.layer)))
    }))

  it.live("fails explicitly, at the next start, a task that was running when the server stopped", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const runner = testRunner()
      const task = yield* Effect.gen(function*() {
        const t = yield* submit("block-forever")
        yield* eventually(stats, (s) => s.running === 1)
        return t
      }).pipe(Effect.provide(kernel(filename, runner.layer)))
      const after = yield* Effect.gen(function*() {
        return yield* (yield* Scheduler).get(task.id)
      }).pipe(Effect.provide(kernel(filename)))
      expect(after).toMatchObject({ status: "Failed", error: "interrupted: the server stopped while the task was running" })
    }))
})
