/**
 * bench:chat — the kernel's own time per chat turn with tool calls. Each turn goes through the
 * real kernel (`Orchestrator.run`, a real SQLite file, the OpenAI-compatible provider over HTTP
 * to the local fake server): interview passes, seed, the agent writes a file and reads it back
 * (two tool calls through the gate, one model step each), answers, the evaluation passes. The
 * baseline is the time the same turns spent waiting on the model, measured in the same run: the
 * LanguageModel layer is wrapped so the time from each stream's start to its end is summed per
 * turn. Kernel time per turn = total − model time.
 *
 *   npm run bench:chat     (BENCH_TURNS, BENCH_WARMUP, BENCH_SYNC=FULL,NORMAL; BENCH_TRACE=1 for every step's median)
 */
import { Configuration, Kernel, LanguageModel, Memory, OpenAiCompatible, Orchestrator } from "@annal/kernel"
import { type ScriptedReply, startFakeOpenAi } from "@annal/kernel/testing/fakeOpenAi"
import { EventStore, type EventStoreSqlite } from "@annal/store"
import Database from "better-sqlite3"
import { Effect, Layer, Logger, LogLevel, Stream } from "effect"
import { mkdirSync, rmSync } from "node:fs"
import { machine, tempDir } from "./lib.js"

const TURNS = Number(process.env.BENCH_TURNS ?? 200)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 30)
const TRACE = process.env.BENCH_TRACE === "1"
const DURABILITIES = (process.env.BENCH_SYNC ?? "FULL,NORMAL").split(",") as Array<EventStoreSqlite.Synchronous>
const MEMORIES = 50
const MODEL_CALLS = 6
const user = { actor: "user:bench" }

const usage = (prompt_tokens: number, completion_tokens: number) => ({ prompt_tokens, completion_tokens })
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value), usage: usage(200, 40) })

/** The model's answers for turn `n`: interview, seed, write, read, the agent's answer, evaluation. */
const turnScript = (n: number): Array<ScriptedReply> => {
  const path = `notes/turn-${n}.md`
  return [
    json({ goal_clarity: 0.95, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] }),
    json({
      goal: `Write a short note for turn ${n}`,
      constraints: ["keep it short"],
      acceptance_criteria: [`the file \`${path}\` exists`],
      ontology: { name: "Note", description: "a note in the workspace", fields: [{ name: "text", field_type: "string", description: "the words" }] }
    }),
    { toolCalls: [{ name: "write", arguments: { path, content: `# Turn ${n}\n\nA short note the agent wrote in turn ${n}.\n` } }], usage: usage(400, 30) },
    { toolCalls: [{ name: "read", arguments: { path } }], usage: usage(450, 12) },
    { text: `Done: ${path} holds the note for turn ${n}.`, usage: usage(500, 12) },
    json({ score: 0.9, passed: true, summary: "the note is there" })
  ]
}

/** A moment of a turn: an event row inserted (its type), a commit, a model stream's start or end. */
interface Mark {
  readonly at: number
  readonly what: string
}

/** Notes the start and end of every model stream: the time between is the model's, HTTP included. */
const timedModel = (marks: Array<Mark>) => (inner: Layer.Layer<LanguageModel, never, Configuration>): Layer.Layer<LanguageModel, never, Configuration> =>
  Layer.effect(
    LanguageModel,
    Effect.map(LanguageModel, (model) => ({
      ...model,
      stream: (request) =>
        Stream.unwrap(Effect.sync(() => {
          marks.push({ at: performance.now(), what: "model start" })
          return model.stream(request).pipe(Stream.ensuring(Effect.sync(() => marks.push({ at: performance.now(), what: "model end" }))))
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
      marks.push({ at: performance.now(), what: what(params) })
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
  /** Of the kernel's time: the tools' execution (gate step 4, from tool_call_started's commit to tool_call_completed). */
  readonly tools: number
  readonly events: number
  readonly commits: number
  readonly streams: number
}

/** One turn's figures from its marks. */
const measure = (marks: ReadonlyArray<Mark>): Turn => {
  let model = 0
  let tools = 0
  let streams = 0
  let modelStart = 0
  let toolStart: number | undefined
  let started = false
  for (const m of marks) {
    if (m.what === "model start") {
      modelStart = m.at
      streams++
    } else if (m.what === "model end") model += m.at - modelStart
    else if (m.what === "tool_call_started") started = true
    else if (m.what === "commit" && started) {
      toolStart = m.at
      started = false
    } else if (m.what === "tool_call_completed" && toolStart !== undefined) {
      tools += m.at - toolStart
      toolStart = undefined
    }
  }
  const total = marks[marks.length - 1]!.at - marks[0]!.at
  return {
    total,
    model,
    kernel: total - model,
    tools,
    events: marks.filter((m) => !["commit", "model start", "model end", "turn start", "turn end"].includes(m.what)).length,
    commits: marks.filter((m) => m.what === "commit").length,
    streams
  }
}

/** All turns on one fresh data directory at one durability. */
const runAt = async (synchronous: EventStoreSqlite.Synchronous, root: string) => {
  const dataDir = `${root}/${synchronous.toLowerCase()}`
  mkdirSync(dataDir, { recursive: true })
  const fake = await startFakeOpenAi()
  const marks: Array<Mark> = []
  const restore = watchWriter(marks)
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
      fake.script.push(...turnScript(n))
      const before = (yield* store.head).seq
      marks.length = 0
      marks.push({ at: performance.now(), what: "turn start" })
      const reply = yield* orchestrator.run({ content: `please write a short note for turn ${n}` }, user)
      marks.push({ at: performance.now(), what: "turn end" })
      const turn = measure(marks)
      if (reply.phase !== "evaluate" || !reply.reply.startsWith("Done:")) throw new Error(`turn ${n} ended in ${reply.phase}: ${reply.reply}`)
      if (turn.streams !== MODEL_CALLS) throw new Error(`turn ${n} made ${turn.streams} model calls, expected ${MODEL_CALLS}`)
      const appended = (yield* store.head).seq - before
      if (appended !== turn.events) throw new Error(`turn ${n}: the head moved by ${appended} but ${turn.events} rows were inserted`)
      if (n < WARMUP) continue
      turns.push(turn)
      if (TRACE) traces.push([...marks])
    }
    if (fake.script.length !== 0) throw new Error(`${fake.script.length} scripted replies left over`)
    return { turns, traces }
  })
  try {
    return await Effect.runPromise(program.pipe(Effect.provide(kernel), Logger.withMinimumLogLevel(LogLevel.Warning)))
  } finally {
    restore()
    await fake.close()
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

const summarize = (synchronous: EventStoreSqlite.Synchronous, turns: ReadonlyArray<Turn>) => {
  const median = (f: (t: Turn) => number) => percentile(turns.map(f), 0.5)
  const s = {
    synchronous,
    kernel: median((t) => t.kernel),
    kernelP90: percentile(turns.map((t) => t.kernel), 0.9),
    withoutTools: median((t) => t.kernel - t.tools),
    tools: median((t) => t.tools),
    model: median((t) => t.model),
    total: median((t) => t.total),
    events: median((t) => t.events),
    commits: median((t) => t.commits)
  }
  console.log(
    `synchronous=${synchronous}: kernel ${ms(s.kernel)} median, ${ms(s.kernelP90)} p90 per turn ` +
      `(tool execution ${ms(s.tools)}, the rest ${ms(s.withoutTools)}); model ${ms(s.model)} median; total ${ms(s.total)} median; ` +
      `${s.events} events in ${s.commits} commits per turn; ratio kernel/model ${(s.kernel / s.model).toFixed(3)}`
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
    console.log(`           over HTTP to the local fake OpenAI-compatible server`)
    console.log(`ours:      the kernel's time per turn: wall time of Orchestrator.run minus the time inside the model's streams`)
    console.log(`baseline:  the time inside the model's streams per turn (request to last chunk: HTTP, the fake's work, SSE decoding)`)
    const results = []
    for (const synchronous of DURABILITIES) {
      const { turns, traces } = await runAt(synchronous, tmp.dir)
      results.push(summarize(synchronous, turns))
      if (TRACE) printTrace(traces)
    }
    const head = results[0]!
    const others = Object.fromEntries(
      results.slice(1).flatMap((r) => {
        const k = r.synchronous.toLowerCase()
        return [[`ours_${k}`, round2(r.kernel)], [`p90_${k}`, round2(r.kernelP90)], [`baseline_${k}`, round2(r.model)], [`without_tools_${k}`, round2(r.withoutTools)]]
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
        ...others,
        turns: TURNS
      })
    )
  } finally {
    tmp.cleanup()
  }
}

await main()
