/**
 * bench:chat — the kernel's own time per chat turn with tool calls. Each turn goes through the
 * real kernel (`Orchestrator.run`, a real SQLite file, the OpenAI-compatible provider over HTTP
 * to the fake server, run in a process of its own by bench/chatModel.ts): interview passes, seed, the agent writes a file and reads it back
 * (two tool calls through the gate, one model step each), answers, the evaluation passes. The
 * baseline is the time the same turns spent waiting on the model, measured in the same run: the
 * LanguageModel layer is wrapped so the time from each stream's start to its end is summed per
 * turn. Kernel time per turn = total − model time.
 *
 *   npm run bench:chat     (BENCH_TURNS, BENCH_WARMUP, BENCH_SYNC=FULL,NORMAL)
 *
 * BENCH_TRACE=1 also prints the median of every step of a turn (between two consecutive marks:
 * an event row inserted, a commit, a model stream's start or end) and the kernel's CPU time;
 * BENCH_MARKS=file writes every turn's marks for `bench/chatProfile.ts` to attribute a
 * `--cpu-prof` profile's samples to those steps.
 */
import { Configuration, Kernel, LanguageModel, Memory, OpenAiCompatible, Orchestrator } from "@annal/kernel"
import { EventStore, type EventStoreSqlite } from "@annal/store"
import Database from "better-sqlite3"
import { Effect, Layer, Logger, LogLevel, Stream } from "effect"
import { fork } from "node:child_process"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { rawFloor, MIN_COMMITS, type TurnShape } from "./chatFloor.js"
import { machine, tempDir } from "./lib.js"

const TURNS = Number(process.env.BENCH_TURNS ?? 200)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 30)
const TRACE = process.env.BENCH_TRACE === "1"
const MARKS = process.env.BENCH_MARKS
const DETAIL = TRACE || MARKS !== undefined
const DURABILITIES = (process.env.BENCH_SYNC ?? "FULL,NORMAL").split(",") as Array<EventStoreSqlite.Synchronous>
const MEMORIES = 50
const MODEL_CALLS = 6
const user = { actor: "user:bench" }

/** A moment of a turn: an event row inserted (its type), a commit, a model stream's start or end. */
interface Mark {
  readonly at: number
  readonly what: string
  /** With BENCH_TRACE or BENCH_MARKS: the process's CPU time so far (user + system), in ms. */
  readonly cpu: number
  /** With BENCH_MARKS: the monotonic clock in µs, the clock of a `--cpu-prof` profile's samples. */
  readonly mono: number
}

// a getrusage per mark costs µs on a VM: only when asked for
const mark = (what: string): Mark => {
  if (!DETAIL) return { at: performance.now(), what, cpu: 0, mono: 0 }
  const { system, user } = process.cpuUsage()
  return { at: performance.now(), what, cpu: (user + system) / 1000, mono: Number(process.hrtime.bigint() / 1000n) }
}

/** Notes the start and end of every model stream: the time between is the model's, HTTP included. */
const timedModel = (marks: Array<Mark>) => (inner: Layer.Layer<LanguageModel, never, Configuration>): Layer.Layer<LanguageModel, never, Configuration> =>
  Layer.effect(
    LanguageModel,
    Effect.map(LanguageModel, (model) => ({
      ...model,
      stream: (request) =>
        Stream.unwrap(Effect.sync(() => {
          marks.push(mark("model start"))
          return model.stream(request).pipe(Stream.ensuring(Effect.sync(() => marks.push(mark("model end")))))
        }))
    }))
  ).pipe(Layer.provide(inner))

/**
 * Notes every event row the store inserts and every commit (under FULL, each one an fsync of the
 * WAL), by wrapping `run` of the store's own `INSERT INTO events` and `COMMIT` statements as
 * bench:append does: one extra JS call each, no other statement touched.
 */
const watchWriter = (marks: Array<Mark>) => {
  type Prepare = (this: Database.Database, source: string) => Database.Statement
  const proto = Database.prototype as unknown as { prepare: Prepare }
  const original = proto.prepare
  const after = (stmt: Database.Statement, what: (params: Array<unknown>) => string) => {
    const run = stmt.run
    stmt.run = (...params: Array<unknown>) => {
      const result = run.apply(stmt, params)
      marks.push(mark(what(params)))
      return result
    }
  }
  proto.prepare = function(source) {
    const stmt = original.call(this, source)
    if (source === "COMMIT") after(stmt, () => "commit")
    else if (source.startsWith("INSERT INTO events ")) after(stmt, (params) => String(params[4]))
    return stmt
  }
  return () => (proto.prepare = original)
}

interface Turn {
  readonly total: number
  readonly model: number
  readonly kernel: number
  /**
   * Of the kernel's time: the tools' execution (gate step 4, from tool_call_started's commit to
   * tool_call_completed, or to the next model call when the completion commits after it starts).
   */
  readonly tools: number
  /** The process's CPU time outside the model's streams (the kernel's time less its waits: fsync, I/O, other processes). */
  readonly kernelCpu: number
  readonly events: number
  readonly commits: number
  readonly streams: number
}

/** One turn's figures from its marks. */
const measure = (marks: ReadonlyArray<Mark>): Turn => {
  let model = 0
  let modelCpu = 0
  let modelCpuStart = 0
  let tools = 0
  let streams = 0
  let modelStart = 0
  let toolStart: number | undefined
  let started = false
  for (const m of marks) {
    if (m.what === "model start") {
      // a call's completion may commit after the agent's next model call has started
      if (toolStart !== undefined) {
        tools += m.at - toolStart
        toolStart = undefined
      }
      modelStart = m.at
      modelCpuStart = m.cpu
      streams++
    } else if (m.what === "model end") {
      model += m.at - modelStart
      modelCpu += m.cpu - modelCpuStart
    }
    else if (m.what === "tool_call_started") started = true
    else if (m.what === "commit" && started) {
      toolStart = m.at
      started = false
    } else if (m.what === "tool_call_completed" && toolStart !== undefined) {
      tools += m.at - toolStart
      toolStart = undefined
    }
  }
  const first = marks[0]!
  const last = marks[marks.length - 1]!
  const total = last.at - first.at
  return {
    total,
    model,
    kernel: total - model,
    tools,
    kernelCpu: last.cpu - first.cpu - modelCpu,
    events: marks.filter((m) => !["commit", "model start", "model end", "turn start", "turn end"].includes(m.what)).length,
    commits: marks.filter((m) => m.what === "commit").length,
    streams
  }
}

/** The scripted model (bench/chatModel.ts) in a process of its own: its URL, and how to stop it. */
const startModel = (requests: number) =>
  new Promise<{ readonly url: string; readonly stop: () => void }>((resolve, reject) => {
    const child = fork(new URL("./chatModel.ts", import.meta.url), [String(requests)], { execArgv: ["--import", "tsx"] })
    child.once("message", (m: { url: string }) => resolve({ url: m.url, stop: () => child.disconnect() }))
    child.once("exit", (code) => reject(new Error(`the fake model exited with ${code}`)))
  })

/** All turns on one fresh data directory at one durability. */
const runAt = async (synchronous: EventStoreSqlite.Synchronous, root: string) => {
  const dataDir = `${root}/${synchronous.toLowerCase()}`
  mkdirSync(dataDir, { recursive: true })
  const fake = await startModel(MODEL_CALLS * (WARMUP + TURNS))
  const marks: Array<Mark> = []
  const restore = watchWriter(marks)
  const shapes: Array<TurnShape> = []
  const kernel = Kernel.layer({
    store: { filename: `${dataDir}/annal.db`, synchronous },
    dataDir,
    resourceSampleIntervalSecs: 60,
    languageModel: timedModel(marks)(OpenAiCompatible.layer({ baseUrl: fake.url, model: "fake" }))
  })
  const program = Effect.gen(function*() {
    // write is consequential (on_demand asks a person); auto lets the turn run without waiting
    yield* (yield* Configuration).update({ tools: { policies: { write: "auto", read: "auto" } } }, user)
    const memory = yield* Memory
    for (let i = 0; i < MEMORIES; i++) yield* memory.store({ content: `note ${i}: short notes are better than long ones, turn ${i}` }, user)
    yield* memory.syncIndex
    const orchestrator = yield* Orchestrator
    const store = yield* EventStore
    const turns: Array<Turn> = []
    const traces: Array<ReadonlyArray<Mark>> = []
    for (let n = 0; n < WARMUP + TURNS; n++) {
      const before = (yield* store.head).seq
      marks.length = 0
      marks.push(mark("turn start"))
      const reply = yield* orchestrator.run({ content: `please write a short note for turn ${n}` }, user)
      marks.push(mark("turn end"))
      const turn = measure(marks)
      if (reply.phase !== "evaluate" || !reply.reply.startsWith("Done:")) throw new Error(`turn ${n} ended in ${reply.phase}: ${reply.reply}`)
      if (turn.streams !== MODEL_CALLS) throw new Error(`turn ${n} made ${turn.streams} model calls, expected ${MODEL_CALLS}`)
      const appended = (yield* store.head).seq - before
      if (appended !== turn.events) throw new Error(`turn ${n}: the head moved by ${appended} but ${turn.events} rows were inserted`)
      if (n < WARMUP) continue
      turns.push(turn)
      shapes.push({
        firstSeq: before + 1,
        steps: marks.filter((m) => !["model start", "model end", "turn start", "turn end"].includes(m.what)).map((m) => (m.what === "commit" ? "c" : "i"))
      })
      if (DETAIL) traces.push([...marks])
    }
    return { turns, traces }
  })
  try {
    const run = await Effect.runPromise(program.pipe(Effect.provide(kernel), Logger.withMinimumLogLevel(LogLevel.Warning)))
    restore()
    return { ...run, floor: rawFloor(`${dataDir}/annal.db`, shapes, dataDir, synchronous) }
  } finally {
    restore()
    fake.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}
const ms = (n: number) => `${n.toFixed(2)} ms`
const round2 = (n: number) => Number(n.toFixed(2))

/**
 * BENCH_TRACE=1: the median of each step of a turn, a step being what happened between two
 * consecutive marks (every turn has the same shape, so step i of each turn is the same step).
 */
const printTrace = (traces: ReadonlyArray<ReadonlyArray<Mark>>) => {
  const shape = (t: ReadonlyArray<Mark>) => t.map((m) => m.what).join(",")
  const same = traces.filter((t) => shape(t) === shape(traces[0]!))
  console.log(`  trace: ${same.length} of ${traces.length} turns have the first one's shape; median ms of each step (* the kernel's)`)
  const first = same[0]!
  let kernel = 0
  for (let i = 1; i < first.length; i++) {
    const step = percentile(same.map((t) => t[i]!.at - t[i - 1]!.at), 0.5)
    const isModel = first[i - 1]!.what === "model start"
    if (!isModel) kernel += step
    console.log(`  ${isModel ? " " : "*"} ${step.toFixed(3).padStart(8)}  ${first[i - 1]!.what} -> ${first[i]!.what}`)
  }
  console.log(`  sum of the kernel steps' medians: ${ms(kernel)}`)
}

type Floor = ReturnType<typeof rawFloor>

const summarize = (synchronous: EventStoreSqlite.Synchronous, turns: ReadonlyArray<Turn>, floor: Floor) => {
  const median = (f: (t: Turn) => number) => percentile(turns.map(f), 0.5)
  const s = {
    synchronous,
    kernel: median((t) => t.kernel),
    kernelP90: percentile(turns.map((t) => t.kernel), 0.9),
    withoutTools: median((t) => t.kernel - t.tools),
    tools: median((t) => t.tools),
    cpu: median((t) => t.kernelCpu),
    model: median((t) => t.model),
    total: median((t) => t.total),
    events: median((t) => t.events),
    commits: median((t) => t.commits),
    floor: floor.rowsInOursCommits + floor.placed + floor.gitCommit,
    floorFewest: floor.rowsInFewestCommits + floor.placed
  }
  console.log(
    `synchronous=${synchronous}: kernel ${ms(s.kernel)} median, ${ms(s.kernelP90)} p90 per turn ` +
      `(tool execution ${ms(s.tools)}, the rest ${ms(s.withoutTools)}${DETAIL ? `; CPU ${ms(s.cpu)}` : ""}); model ${ms(s.model)} median; total ${ms(s.total)} median; ` +
      `${s.events} events in ${s.commits} commits per turn; ratio kernel/model ${(s.kernel / s.model).toFixed(3)}`
  )
  console.log(
    `  raw floor (bench/chatFloor.ts: the same rows and file with raw better-sqlite3 and the workspace's git writer): ` +
      `${ms(s.floor)} per turn (rows in ours' ${s.commits} commits ${ms(floor.rowsInOursCommits)}, file placed ${ms(floor.placed)}, ` +
      `its git commit ${ms(floor.gitCommit)}); with the rows in ${MIN_COMMITS} commits and the git commit off the path: ${ms(s.floorFewest)}`
  )
  return s
}

const main = async () => {
  const tmp = tempDir("chat")
  try {
    console.log(`chat: ${TURNS} chat turns (after ${WARMUP} warm-up) through Orchestrator.run, at ${DURABILITIES.map((d) => `synchronous=${d}`).join(" and ")}`)
    console.log(`machine:   ${machine()}`)
    console.log(`each turn: a fresh session; interview (passes), seed, recall (${MEMORIES} memories), an agent that writes a workspace file and`)
    console.log(`           reads it back (two tool calls through the gate, policies auto), answers; the evaluation passes: ${MODEL_CALLS} model calls`)
    console.log(`           over HTTP to the fake OpenAI-compatible server (bench/chatModel.ts) in its own process`)
    console.log(`ours:      the kernel's time per turn: wall time of Orchestrator.run minus the time inside the model's streams`)
    console.log(`baseline:  the time inside the model's streams per turn (request to last chunk: HTTP, the fake's work, SSE decoding)`)
    const results = []
    const allTraces: Array<ReadonlyArray<Mark>> = []
    for (const synchronous of DURABILITIES) {
      const { turns, traces, floor } = await runAt(synchronous, tmp.dir)
      results.push(summarize(synchronous, turns, floor))
      if (TRACE) printTrace(traces)
      allTraces.push(...traces)
    }
    if (MARKS !== undefined) writeFileSync(MARKS, JSON.stringify(allTraces))
    const head = results[0]!
    const others = Object.fromEntries(
      results.slice(1).flatMap((r) => {
        const k = r.synchronous.toLowerCase()
        return [
          [`ours_${k}`, round2(r.kernel)],
          [`p90_${k}`, round2(r.kernelP90)],
          [`baseline_${k}`, round2(r.model)],
          [`without_tools_${k}`, round2(r.withoutTools)],
          [`raw_floor_${k}`, round2(r.floor)]
        ]
      })
    )
    console.log(
      JSON.stringify({
        bench: "chat",
        ours: round2(head.kernel),
        baseline: round2(head.model),
        unit: "ms/turn",
        ratio: Number((head.kernel / head.model).toFixed(3)),
        synchronous: head.synchronous,
        p90: round2(head.kernelP90),
        without_tools: round2(head.withoutTools),
        tools: round2(head.tools),
        events_per_turn: head.events,
        commits_per_turn: head.commits,
        raw_floor: round2(head.floor),
        raw_floor_fewest_commits: round2(head.floorFewest),
        ...others,
        turns: TURNS
      })
    )
  } finally {
    tmp.cleanup()
  }
}

await main()
