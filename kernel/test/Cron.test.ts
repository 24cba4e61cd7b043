import { describe, expect, it } from "@effect/vitest"
import { Cron, CronDecide, CronEvents, InvalidCommand, Kernel, NOT_CONFIGURED, Rebuild, Scheduler, SchedulerEvents, TaskRunFailed, TaskRunner } from "@annal/kernel"
import { EventStore, type StoredEvent } from "@annal/store"
import { Effect, Either, Layer } from "effect"
import nodeCron from "node-cron"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { eventually, realPause } from "./support.js"

const tempDb = () => join(mkdtempSync(join(tmpdir(), "annal-cron-")), "annal.db")

const kernel = (filename: string, taskRunner?: Layer.Layer<TaskRunner>) =>
  Kernel.layer({ store: { filename, synchronous: "NORMAL" }, dataDir: dirname(filename), resourceSampleIntervalSecs: 60, taskRunner })

const user = { actor: "user:test" }

/** A runner that completes every task at once, or fails one whose goal starts with `fail`. */
const completingRunner = Layer.succeed(
  TaskRunner,
  TaskRunner.of({
    name: "test",
    unavailable: Effect.succeed(undefined),
    run: (task) =>
      task.goal.startsWith("fail")
        ? Effect.fail(new TaskRunFailed({ message: "failed on purpose" }))
        : Effect.succeed({ summary: `did ${task.goal}` })
  })
)


const streamTypes = (stream: string) => Effect.flatMap(EventStore, (s) => Effect.map(s.readStream(stream), (es) => es.map((e) => e.type)))

const event = (type: string, data: Record<string, unknown>, seq: number, version: number): StoredEvent => ({
  seq,
  id: `e${seq}`,
  stream: "x",
  version,
  type,
  actor: "system",
  at: `2026-01-01T00:00:${String(seq).padStart(2, "0")}.000Z`,
  data,
  meta: {},
  prev_hash: "",
  hash: ""
})

describe("cron decisions (pure)", () => {
  it("normalises schedules to six fields and names the field when one is invalid", () => {
    const ok = (e: string) => Either.getOrThrow(CronDecide.normaliseSchedule(e))
    expect(ok("* * * * * *")).toBe("* * * * * *")
    expect(ok("0 0 * * * *")).toBe("0 0 * * * *")
    expect(ok("*/5 * * * *")).toBe("0 */5 * * * *")
    expect(ok("  0   12 * * MON ")).toBe("0 0 12 * * MON")
    expect(ok("@daily")).toBe("0 0 0 * * *")
    expect(ok("@hourly")).toBe("0 0 * * * *")
    for (const bad of ["61 * * * * *", "bad", "* * * * * * *", "0 0 30 2 *", "* * *", "@reboot"]) {
      const result = CronDecide.normaliseSchedule(bad)
      expect(Either.isLeft(result), bad).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left).toBeInstanceOf(InvalidCommand)
        expect(result.left.message).toMatch(/^invalid field "schedule": /)
      }
    }
  })

  it("fills the seed's defaults on create and appends only what an edit changes", () => {
    const created = Either.getOrThrow(CronDecide.decideCreate("j1", { name: " nightly ", schedule: "0 3 * * *", goal: "back up" }))
    expect(created).toEqual({
      type: "cron_job_created",
      data: {
        id: "j1",
        name: "nightly",
        schedule: "0 0 3 * * *",
        goal: "back up",
        constraints: [],
        acceptance_criteria: [],
        toolchain: "default",
        priority: "Normal"
      }
    })
    const job = CronDecide.evolve(undefined, event(created.type, created.data, 1, 1))!
    expect(Either.getOrThrow(CronDecide.decideUpdate(job, { goal: "back up" }))).toBeUndefined()
    expect(Either.getOrThrow(CronDecide.decideUpdate(job, { schedule: "0 0 3 * * *" }))).toBeUndefined()
    const edited = Either.getOrThrow(CronDecide.decideUpdate(job, { priority: "High", schedule: "0 4 * * *", constraints: ["x"] }))
    expect(edited).toMatchObject({ type: "cron_job_updated", data: { schedule: "0 0 4 * * *", priority: "High", changed: ["constraints", "priority", "schedule"] } })
    expect(Either.isLeft(CronDecide.decideUpdate(job, { schedule: "nope" }))).toBe(true)
  })

  it("records the last run and settles last_success only from the task of the last run", () => {
    const created = Either.getOrThrow(CronDecide.decideCreate("j1", { name: "n", schedule: "* * * * * *", goal: "g" }))
    let job = CronDecide.evolve(undefined, event(created.type, created.data, 1, 1))
    expect(job).toMatchObject({ last_run: null, last_success: null, last_task_id: null, created_at: "2026-01-01T00:00:01.000Z" })
    job = CronDecide.evolve(job, event(CronEvents.CRON_TRIGGERED, { job_id: "j1", task_id: "t1", reason: "schedule" }, 2, 2))
    expect(job).toMatchObject({ last_run: "2026-01-01T00:00:02.000Z", last_success: null, last_task_id: "t1", version: 2 })
    job = CronDecide.evolve(job, event(SchedulerEvents.TASK_COMPLETED, { id: "t0", summary: "old" }, 3, 3))
    expect(job?.last_success).toBeNull()
    job = CronDecide.evolve(job, event(SchedulerEvents.TASK_FAILED, { id: "t1", error: "x" }, 4, 3))
    expect(job?.last_success).toBe(false)
    job = CronDecide.evolve(job, event(CronEvents.CRON_TRIGGERED, { job_id: "j1", task_id: "t2", reason: "manual" }, 5, 3))
    expect(job).toMatchObject({ last_success: null, last_task_id: "t2" })
    job = CronDecide.evolve(job, event(SchedulerEvents.TASK_COMPLETED, { id: "t2", summary: "ok" }, 6, 3))
    expect(job?.last_success).toBe(true)
    expect(CronDecide.evolve(job, event(CronEvents.CRON_JOB_DELETED, { id: "j1" }, 7, 4))).toBeUndefined()
  })

  it("follows a run from its trigger through its task's start to its end, or to a refused submission", () => {
    const trigger = event(CronEvents.CRON_TRIGGERED, { job_id: "j1", task_id: "t1", reason: "manual" }, 2, 2)
    expect(CronDecide.evolveRun(undefined, event(SchedulerEvents.TASK_STARTED, { id: "t1", runner: "r" }, 1, 1))).toBeUndefined()
    let run = CronDecide.evolveRun(undefined, trigger)
    expect(run).toEqual({ task_id: "t1", job_id: "j1", seq: 2, at: "2026-01-01T00:00:02.000Z", reason: "manual", status: "queued", outcome: null, ended_at: null })
    run = CronDecide.evolveRun(run, event(SchedulerEvents.TASK_STARTED, { id: "t1", runner: "r" }, 3, 2))
    expect(run).toMatchObject({ status: "running", outcome: null, ended_at: null })
    for (const [type, data, status, outcome] of [
      [SchedulerEvents.TASK_COMPLETED, { id: "t1", summary: "done" }, "completed", "done"],
      [SchedulerEvents.TASK_FAILED, { id: "t1", error: "broke" }, "failed", "broke"],
      [SchedulerEvents.TASK_CANCELLED, { id: "t1", reason: "by hand" }, "cancelled", "by hand"]
    ] as const) {
      expect(CronDecide.evolveRun(run, event(type, data, 4, 3))).toMatchObject({ status, outcome, ended_at: "2026-01-01T00:00:04.000Z", seq: 2 })
    }
    const refused = CronDecide.evolveRun(CronDecide.evolveRun(undefined, trigger), event(CronEvents.CRON_RUN_FAILED, { job_id: "j1", task_id: "t1", error: "queue full" }, 3, 3))
    expect(refused).toMatchObject({ status: "not_submitted", outcome: "queue full", ended_at: "2026-01-01T00:00:03.000Z" })
  })
})

describe("cron jobs", () => {
  it.live("fire on their schedule: cron_triggered, a task submitted and run, last_run and last_success; deleting stops them", () =>
    Effect.gen(function*() {
      const cron = yield* Cron
      const scheduler = yield* Scheduler
      const id = yield* cron.create({ name: "tick", schedule: "* * * * * *", goal: "tick", priority: "High" }, user)
      const job = yield* eventually(cron.get(id), (j) => j.last_success === true)
      expect(job.last_run).not.toBeNull()
      const task = yield* scheduler.get(job.last_task_id!)
      expect(task).toMatchObject({ status: "Completed", summary: "did tick", priority: "High", source: { kind: "cron", id }, goal: "tick" })
      // the task was caused by the run that submitted it
      const store = yield* EventStore
      const [submittedEvent] = yield* store.readStream(`task-${task.id}`)
      const triggers = (yield* store.readStream(`cron-${id}`)).filter((e) => e.type === "cron_triggered")
      const cause = triggers.find((e) => e.data.task_id === task.id)!
      expect(submittedEvent!.meta.causation_id).toBe(cause.id)
      expect(cause.actor).toBe("system:cron")
      expect(cause.data.reason).toBe("schedule")

      const timerOf = () => [...nodeCron.getTasks().values()].filter((t) => t.name === `cron-${id}`)
      expect(timerOf()).toHaveLength(1)
      yield* cron.remove(id, user)
      expect(timerOf()).toHaveLength(0)
      const fired = (yield* streamTypes(`cron-${id}`)).filter((t) => t === "cron_triggered").length
      yield* realPause(2200)
      expect((yield* streamTypes(`cron-${id}`)).filter((t) => t === "cron_triggered").length).toBe(fired)
      expect(yield* Effect.flip(cron.get(id))).toMatchObject({ _tag: "EntityNotFound" })
    }).pipe(Effect.provide(kernel(tempDb(), completingRunner))))

  it.live("a failed task makes last_success false; an edit reschedules", () =>
    Effect.gen(function*() {
      const cron = yield* Cron
      const id = yield* cron.create({ name: "rare", schedule: "0 0 0 1 1 *", goal: "fail please" }, user)
      const before = yield* cron.get(id)
      expect(before.next_run).toMatch(/-01-01T00:00:00\.000Z$/)
      const run = yield* cron.trigger(id, user)
      expect(run.job_id).toBe(id)
      yield* eventually(cron.get(id), (j) => j.last_success === false)
      yield* cron.update(id, { schedule: "* * * * * *", goal: "now fine" }, user)
      const job = yield* eventually(cron.get(id), (j) => j.last_success === true && j.last_task_id !== run.task_id)
      expect(Date.parse(job.next_run!) - Date.now()).toBeLessThanOrEqual(1100)
      yield* cron.remove(id, user)
    }).pipe(Effect.provide(kernel(tempDb(), completingRunner))))

  it.live("trigger without a runtime queues the task and says so; an Idempotency-Key runs it once", () =>
    Effect.gen(function*() {
      const cron = yield* Cron
      const scheduler = yield* Scheduler
      const id = yield* cron.create({ name: "manual", schedule: "0 0 0 1 1 *", goal: "g", constraints: ["c1"], acceptance_criteria: ["a1"] }, user)
      const run = yield* cron.trigger(id, user)
      expect(run).toEqual({
        job_id: id,
        success: true,
        summary: `submitted as task ${run.task_id}; queued (${NOT_CONFIGURED})`,
        task_id: expect.any(String)
      })
      expect(yield* scheduler.get(run.task_id!)).toMatchObject({ status: "Queued", constraints: ["c1"], acceptance_criteria: ["a1"] })
      const meta = { idempotency_key: "trigger-once" }
      const first = yield* cron.trigger(id, { ...user, meta })
      const second = yield* cron.trigger(id, { ...user, meta })
      expect(second.task_id).toBe(first.task_id)
      expect((yield* streamTypes(`cron-${id}`)).filter((t) => t === "cron_triggered")).toHaveLength(2)
      expect((yield* scheduler.stats).queued).toBe(2)
      expect((yield* cron.get(id)).last_task_id).toBe(first.task_id)
      const missing = yield* Effect.flip(cron.trigger("no-such-job", user))
      expect(missing).toMatchObject({ _tag: "EntityNotFound" })
    }).pipe(Effect.provide(kernel(tempDb()))))

  it.live("survive a restart with their timers, and every view rebuilds identical from the log", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const ids = yield* Effect.gen(function*() {
        const cron = yield* Cron
        const scheduler = yield* Scheduler
        const a = yield* cron.create({ name: "a", schedule: "0 0 0 1 1 *", goal: "fail a" }, user)
        const b = yield* cron.create({ name: "b", schedule: "@daily", goal: "b", toolchain: "rust", priority: "Critical" }, user)
        const c = yield* cron.create({ name: "c", schedule: "* * * * * *", goal: "c" }, user)
        yield* eventually(cron.get(c), (j) => j.last_success === true)
        yield* cron.remove(c, user)
        yield* cron.update(b, { name: "b2" }, user)
        yield* cron.trigger(a, user)
        yield* cron.trigger(b, user)
        yield* eventually(scheduler.stats, (s) => s.queued === 0 && s.running === 0)
        const direct = yield* scheduler.submit({ description: "by hand", goal: "by hand", source: { kind: "api", id: null } }, user)
        yield* eventually(scheduler.get(direct.id), (t) => t.status === "Completed")
        const report = yield* Rebuild.rebuild(Kernel.projections)
        const mine = report.tables.filter((t) => t.table.startsWith("cron_") || t.table === "scheduler_tasks")
        expect(mine.map((t) => t.table).sort()).toEqual(["cron_jobs", "cron_runs", "scheduler_tasks"])
        expect(mine.every((t) => t.equal)).toBe(true)
        expect(mine.find((t) => t.table === "cron_jobs")!.live.rows).toBe(2)
        // c's runs went with it; a and b ran once each
        expect(mine.find((t) => t.table === "cron_runs")!.live.rows).toBe(2)
        const runs = yield* cron.runs(a, { page: 1, limit: 50, offset: 0 })
        expect(runs).toMatchObject({ total: 1, items: [{ job_id: a, reason: "manual", status: "failed", outcome: "failed on purpose" }] })
        return { a, b, jobs: yield* cron.list }
      }).pipe(Effect.provide(kernel(filename, completingRunner)))

      yield* Effect.gen(function*() {
        const jobs = yield* (yield* Cron).list
        // the same jobs, with their timers re-created (next_run comes from the live timer)
        expect(jobs.map(({ next_run: _, ...j }) => j)).toEqual(ids.jobs.map(({ next_run: _, ...j }) => j))
        expect(jobs.map((j) => j.id)).toEqual([ids.a, ids.b])
        expect(jobs[0]).toMatchObject({ name: "a", last_success: false, next_run: expect.stringMatching(/-01-01T00:00:00\.000Z$/) })
        expect(jobs[1]).toMatchObject({ name: "b2", schedule: "0 0 0 * * *", toolchain: "rust", priority: "Critical", last_success: true })
        expect(jobs[1]!.next_run).toMatch(/T00:00:00\.000Z$/)
        const report = yield* Rebuild.rebuild(Kernel.projections)
        expect(report.tables.filter((t) => t.table.startsWith("cron_") || t.table === "scheduler_tasks").every((t) => t.equal)).toBe(true)
      }).pipe(Effect.provide(kernel(filename)))
    }))
})
