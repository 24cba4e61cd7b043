/**
 * Replaying recorded chat runs: the orchestrator, agents and gate run again in a scratch kernel
 * with every model answer and tool result from the record, and the events come out identical —
 * a run with tool calls (their own events too), an approval, a denial and an evolution; a run split into an agent
 * group; a run whose agent calls a tool the scratch kernel does not have (as a program's is) —
 * while the live log gains nothing and the model is not asked. A tool result edited in the log
 * file comes out different, at that event. A run recorded before agents' offers were still
 * replays, with the built-ins.
 */
import { describe, expect, it } from "@effect/vitest"
import { Approvals, Configuration, EVALUATE_PROMPT, EVOLVE_PROMPT, INTERVIEW_PROMPT, Orchestrator, publicView, Replay, SEED_PROMPT, Tool, ToolRegistry, Workspace } from "@annal/kernel"
import { EventStore, type StoredEvent } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Effect, Either, type Layer, Schema } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FakeOpenAi, type ScriptedReply, startFakeOpenAi } from "./fixtures/fakeOpenAi.js"
import { eventually, kernelWithModel } from "./support.js"

type KernelServices = Layer.Layer.Success<ReturnType<typeof kernelWithModel>>
const user = { actor: "user:api" }
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })
const clear = json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] })

const withFake = <A, E>(script: Array<ScriptedReply | ((body: any) => ScriptedReply)>, body: (fake: FakeOpenAi, dir: string) => Effect.Effect<A, E, KernelServices>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "annal-replay-test-"))),
    (dir) =>
      Effect.acquireUseRelease(
        Effect.promise(() => startFakeOpenAi(script)),
        (fake) => body(fake, dir).pipe(Effect.provide(kernelWithModel(dir, fake))),
        (fake) => Effect.promise(() => fake.close())
      ),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

const systemOf = (body: any) => (body.messages[0]?.role === "system" ? String(body.messages[0].content) : "")
const lastOf = (body: any) => body.messages.at(-1)

const logOf = Effect.gen(function*() {
  const store = yield* EventStore
  return yield* store.read(1, (yield* store.head).seq)
})

/** Replays `runId`, checking that the live log gained nothing and the model was not asked. */
const replay = (fake: FakeOpenAi, runId: string, scratchParent: string) =>
  Effect.gen(function*() {
    const before = (yield* (yield* EventStore).head).seq
    const asked = fake.requests.length
    const result = yield* Replay.replayRun(runId, { scratchParent })
    expect((yield* (yield* EventStore).head).seq).toBe(before)
    expect(fake.requests.length).toBe(asked)
    // the scratch directory is gone
    expect(readdirSync(scratchParent)).toEqual([])
    return result
  })

describe("replaying a chat run", () => {
  it.live("a run with tool calls (a memory stored, a file written), an approval, a denial and an evolution replays identical; an edited tool result does not", () => {
    let evaluations = 0
    return withFake(
      Array.from({ length: 30 }, () => (body: any): ScriptedReply => {
        const system = systemOf(body)
        if (system === INTERVIEW_PROMPT) return clear
        if (system === SEED_PROMPT) return json({ goal: "Count the notes", constraints: [], acceptance_criteria: ["it says how many notes there are in `count.txt`"], ontology: null })
        if (system === EVALUATE_PROMPT) {
          evaluations++
          return evaluations === 1 ? json({ score: 0.4, passed: false, summary: "not exact" }) : json({ score: 1, passed: true, summary: "exact" })
        }
        if (system === EVOLVE_PROMPT) return json({ goal: "Count the notes exactly" })
        const last = lastOf(body)
        const goal = String(body.messages.find((m: any) => m.role === "user")?.content ?? "")
        if (goal.includes("exactly")) return { text: "Exactly two notes." }
        if (last.role === "user") return { toolCalls: [{ name: "read", arguments: { path: "notes.txt" }, id: "call_read" }], usage: { prompt_tokens: 40, completion_tokens: 5 } }
        if (last.tool_call_id === "call_read") return { toolCalls: [{ name: "memory_store", arguments: { content: "there are two notes", tags: ["notes"] }, id: "call_mem" }] }
        if (last.tool_call_id === "call_mem") return { toolCalls: [{ name: "write", arguments: { path: "count.txt", content: "2" }, id: "call_write" }] }
        if (last.tool_call_id === "call_write") return { toolCalls: [{ name: "exec", arguments: { argv: ["rm", "notes.txt"] }, id: "call_exec" }] }
        return { text: `About two notes (the file said: ${String(body.messages.find((m: any) => m.tool_call_id === "call_read")?.content).trim()}).` }
      }),
      (fake, dir) =>
        Effect.gen(function*() {
          // a person must approve each read
          yield* (yield* Configuration).update({ tools: { policies: { read: "always", write: "auto" } } }, user)
          yield* (yield* Workspace).write("notes.txt", new TextEncoder().encode("first note\nsecond note\n"), user)
          const approvals = yield* Approvals
          const started = yield* (yield* Orchestrator).start({ content: "How many notes are there?" }, { actor: "user:alice", meta: { correlation_id: "req-9" } })
          const pending = yield* eventually(approvals.list({ status: "pending" }), (list) => list.length === 1, 15_000)
          yield* approvals.approve(pending[0]!.id, { actor: "user:bob" })
          const reply = yield* started.reply
          expect(reply).toMatchObject({ reply: "Exactly two notes.", phase: "evaluate" })

          const log = yield* logOf
          const types = log.map((e) => e.type)
          // what the replay must go through: an approval, a completed call, a denied call, an evolution
          // and the tools' own events: a memory stored, a file's write recorded
          for (const t of ["approval_resolved", "tool_call_completed", "tool_call_denied", "seed_created", "memory_stored", "workspace_file_written"]) expect(types).toContain(t)
          // each evaluation's look for the file its criteria name, on the record before it decided
          expect(log.filter((e) => e.type === "workspace_checked").map((e) => e.data)).toEqual([
            { run_id: started.run_id, paths: ["count.txt"], missing: [] },
            { run_id: started.run_id, paths: ["count.txt"], missing: [] }
          ])
          expect(log.filter((e) => e.type === "seed_created")).toHaveLength(2)

          const scratch = join(dir, "scratch")
          yield* Effect.sync(() => mkdirSync(scratch))
          const same = yield* replay(fake, started.run_id, scratch)
          expect(same).toMatchObject({ result: "identical", run_id: started.run_id, unanswered: [] })
          expect((same as { events: number }).events).toBeGreaterThan(30)

          // recorded before agents' offers were: no tools on agent_started, and still identical (the built-ins are offered, off the record)
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE events SET data = json_remove(data, '$.tools') WHERE type = 'agent_started'`
          expect(yield* replay(fake, started.run_id, scratch)).toMatchObject({ result: "identical", unanswered: [] })

          // an attacker edits what the file gave the model, in the log file itself
          const completed = log.find((e) => e.type === "tool_call_completed")!
          yield* sql`UPDATE events SET data = json_set(data, '$.output', 'first note\n') WHERE seq = ${completed.seq}`
          const edited = yield* replay(fake, started.run_id, scratch)
          expect(edited).toMatchObject({
            result: "different",
            seq: completed.seq,
            expected: { type: "tool_call_completed", data: { output: "first note\n", sha256: completed.data.sha256 } },
            actual: { type: "tool_call_completed", data: { output: "first note\n", output_bytes: 11 } }
          })
          // the model's next request differs from the record's: it has no answer for it
          expect(edited.unanswered).toEqual([expect.stringContaining("the model was asked something the record has no answer to")])
        })
    )
  }, 60_000)

  it.live("a run whose agent's model failed replays identical: the failure is on the record like an answer", () =>
    withFake(
      [
        clear,
        json({ goal: "Say hello", constraints: [], acceptance_criteria: ["it says hello"], ontology: null }),
        { status: 500, error: "the model is down" }
      ],
      (fake, dir) =>
        Effect.gen(function*() {
          const started = yield* (yield* Orchestrator).start({ content: "say hello" }, user)
          const failed = yield* Effect.flip(started.reply)
          expect(failed.message).toContain("the model is down")
          const log = yield* logOf
          expect(log.find((e) => e.type === "model_failed")!.data).toMatchObject({ error: expect.stringContaining("the model is down"), unavailable: false, step: 1 })
          expect(log.map((e) => e.type)).toContain("chat_run_failed")
          const scratch = join(dir, "scratch")
          yield* Effect.sync(() => mkdirSync(scratch))
          expect(yield* replay(fake, started.run_id, scratch)).toMatchObject({ result: "identical", unanswered: [] })
        })
    ), 60_000)

  it.live("a run split into an agent group replays identical, its members' streams paired whatever their interleaving", () =>
    withFake(
      Array.from({ length: 30 }, () => (body: any): ScriptedReply => {
        const system = systemOf(body)
        if (system === INTERVIEW_PROMPT) return clear
        if (system === SEED_PROMPT) {
          return json({ goal: "Describe three notes", constraints: [], acceptance_criteria: ["note a is described", "note b is described", "note c is described"], ontology: null })
        }
        if (system === EVALUATE_PROMPT) return json({ score: 1, passed: true, summary: "all three" })
        const last = lastOf(body)
        const task = String(body.messages.find((m: any) => m.role === "user" && String(m.content).includes("Your part"))?.content ?? "")
        const note = ["a", "b", "c"].find((n) => task.split("Your part")[1]?.includes(`note ${n}`)) ?? "none"
        if (last.role === "user") return { toolCalls: [{ name: "ls", arguments: { path: "." }, id: `call_${note}` }], delayMs: 20 }
        return { text: `note ${note} is there` }
      }),
      (fake, dir) =>
        Effect.gen(function*() {
          yield* (yield* Configuration).update({ scheduler: { max_concurrent: 3 } }, user)
          const reply = yield* (yield* Orchestrator).run({ content: "Describe the notes" }, user)
          expect(reply.phase).toBe("evaluate")
          const log: ReadonlyArray<StoredEvent> = yield* logOf
          const group = log.find((e) => e.type === "agent_group_created")!
          expect(group.data.agent_ids).toHaveLength(3)
          const runId = String(log.find((e) => e.type === "chat_run_started")!.data.run_id)
          const scratch = join(dir, "scratch")
          yield* Effect.sync(() => mkdirSync(scratch))
          expect(yield* replay(fake, runId, scratch)).toMatchObject({ result: "identical", unanswered: [] })
        })
    ), 60_000)

  it.live("a run whose agent calls a tool the replay does not load (a program's) replays identical from its recorded offer and the gate's reading of each call; an edited output does not", () =>
    withFake(
      [
        clear,
        json({ goal: "Count the words of the notes", constraints: [], acceptance_criteria: ["it says how many words"], ontology: null }),
        // first without its argument (refused at the gate), then with it (a person approves: it is consequential)
        { toolCalls: [{ name: "notes__words", arguments: {}, id: "call_bad" }] },
        { toolCalls: [{ name: "notes__words", arguments: { path: "notes.txt" }, id: "call_words" }] },
        { text: "Four words." },
        json({ score: 1, passed: true, summary: "counted" })
      ],
      (fake, dir) =>
        Effect.gen(function*() {
          // a tool only the live kernel has, as a program's is: a path argument, consequential, its own resource and time limit
          const words = Either.getOrThrow(Tool.make({
            name: "notes__words",
            description: "Words of a note",
            args: Schema.Struct({ path: Schema.String }),
            access: (args) => ({ paths: [args.path] }),
            consequential: () => true,
            resource: (args) => `wc -w ${args.path}`,
            timeoutSecs: Effect.succeed(7),
            run: () => Effect.succeed({ text: "4 notes.txt" })
          }))
          yield* (yield* ToolRegistry).register(words)
          const approvals = yield* Approvals
          const started = yield* (yield* Orchestrator).start({ content: "How many words are in the notes?" }, user)
          const pending = yield* eventually(approvals.list({ status: "pending" }), (list) => list.length === 1, 15_000)
          expect(pending[0]!.resource).toBe("wc -w notes.txt")
          yield* approvals.approve(pending[0]!.id, { actor: "user:bob" })
          expect(yield* started.reply).toMatchObject({ reply: "Four words.", phase: "evaluate" })

          const log = yield* logOf
          // the agent's offer is on the record, as its requests listed it, and no live stream shows it
          const agentStarted = log.find((e) => e.type === "agent_started")!
          const offered = agentStarted.data.tools as Array<{ name: string }>
          expect(offered.find((t) => t.name === "notes__words")).toEqual({ name: "notes__words", description: "Words of a note", parameters: words.parameters })
          expect(offered.map((t) => t.name)).toEqual(fake.requests[2]!.tools.map((t: any) => t.function.name))
          expect(publicView(agentStarted)).not.toHaveProperty("tools")
          expect(log.find((e) => e.type === "tool_call_denied")!.data).toMatchObject({ stage: "arguments", tool: "notes__words" })
          expect(log.find((e) => e.type === "tool_call_started")!.data).toMatchObject({ tool: "notes__words", timeout_secs: 7 })

          const scratch = join(dir, "scratch")
          yield* Effect.sync(() => mkdirSync(scratch))
          expect(yield* replay(fake, started.run_id, scratch)).toMatchObject({ result: "identical", unanswered: [] })

          // what the tool gave the model, edited in the log file
          const completed = log.find((e) => e.type === "tool_call_completed")!
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE events SET data = json_set(data, '$.output', '9 notes.txt') WHERE seq = ${completed.seq}`
          expect(yield* replay(fake, started.run_id, scratch)).toMatchObject({
            result: "different",
            seq: completed.seq,
            expected: { type: "tool_call_completed", data: { output: "9 notes.txt", sha256: completed.data.sha256 } },
            actual: { type: "tool_call_completed", data: { output: "9 notes.txt", tool: "notes__words" } }
          })
        })
    ), 60_000)
})
