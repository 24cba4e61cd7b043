/**
 * Chat runs on the record: their lifecycle events and view, agents admitted through the
 * scheduler, agent groups for seeds with many criteria, stopping on a timeout, failing with a
 * reason, and resuming a run a stop cut off.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  AgentGroups,
  Agents,
  Configuration,
  EVALUATE_PROMPT,
  INTERVIEW_PROMPT,
  Orchestrator,
  OrchestratorDecide,
  Scheduler,
  SEED_PROMPT,
  Sessions,
  Workspace
} from "@annal/kernel"
import { EventStore, type StoredEvent } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Layer, Scope } from "effect"
import Database from "better-sqlite3"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FakeOpenAi, type ScriptedReply, startFakeOpenAi } from "./fixtures/fakeOpenAi.js"
import { eventually, kernelWithModel } from "./support.js"

type KernelServices = Layer.Layer.Success<ReturnType<typeof kernelWithModel>>
const tempDir = () => mkdtempSync(join(tmpdir(), "annal-chatruns-"))
const user = { actor: "user:api" }
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })
const clear = json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] })
const passed = json({ score: 1, passed: true, summary: "all there" })

type Reply = ScriptedReply | ((body: any) => ScriptedReply)

const withFake = <A, E>(script: Array<Reply>, body: (fake: FakeOpenAi, dir: string) => Effect.Effect<A, E, KernelServices>, dir = tempDir()) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startFakeOpenAi(script)),
    (fake) => body(fake, dir).pipe(Effect.provide(kernelWithModel(dir, fake))),
    (fake) => Effect.promise(() => fake.close())
  )

/** Answers by what is asked: the interview, the seed, the evaluation, or an agent's step. */
const dispatcher = (seed: unknown, agentStep: (body: any) => ScriptedReply): Reply => (body: any) => {
  const system = body.messages[0]?.role === "system" ? String(body.messages[0].content) : ""
  if (system === INTERVIEW_PROMPT) return clear
  if (system === SEED_PROMPT) return json(seed)
  if (system === EVALUATE_PROMPT) return passed
  return agentStep(body)
}

const allEvents = Effect.gen(function*() {
  const store = yield* EventStore
  return yield* store.read(1, (yield* store.head).seq)
})
const typesOf = (events: ReadonlyArray<StoredEvent>) => events.map((e) => e.type)

describe("chat runs: decide", () => {
  it("splits 3 or more criteria into parts, at most max_group_size, dealt in turn", () => {
    expect(OrchestratorDecide.splitCriteria(["a", "b"], 4)).toBeUndefined()
    expect(OrchestratorDecide.splitCriteria(["a", "b", "c"], 4)).toEqual([["a"], ["b"], ["c"]])
    expect(OrchestratorDecide.splitCriteria(["a", "b", "c", "d", "e"], 2)).toEqual([["a", "c", "e"], ["b", "d"]])
  })
  it("resumes a cut-off run from its seed or the interview, once, and only with a model", () => {
    expect(OrchestratorDecide.decideResume({ resumes: 0, seed_id: "s1" }, undefined)).toEqual({ _tag: "Resume", phase: "execute", seed_id: "s1" })
    expect(OrchestratorDecide.decideResume({ resumes: 0, seed_id: null }, undefined)).toEqual({ _tag: "Resume", phase: "interview", seed_id: null })
    expect(OrchestratorDecide.decideResume({ resumes: 1, seed_id: "s1" }, undefined)._tag).toBe("Fail")
    const noModel = OrchestratorDecide.decideResume({ resumes: 0, seed_id: "s1" }, "no language model configured")
    expect(noModel).toMatchObject({ _tag: "Fail", error: expect.stringContaining("no language model configured") })
  })
})

describe("chat runs", () => {
  it.live("a run is on the record from chat_run_started to chat_run_completed, its agent a scheduler task", () =>
    withFake([
      clear,
      json({ goal: "Say hi", constraints: [], acceptance_criteria: ["it says hi"], ontology: null }),
      { text: "hi" },
      passed
    ], () =>
      Effect.gen(function*() {
        const reply = yield* (yield* Orchestrator).run({ content: "say hi" }, { actor: "user:api", meta: { correlation_id: "req-1" } })
        expect(reply).toMatchObject({ reply: "hi", phase: "evaluate" })
        const events = yield* allEvents
        const run = events.filter((e) => e.stream.startsWith("chat-run-"))
        expect(typesOf(run)).toEqual([
          "chat_run_started",
          // the interview, seed and evaluate phases each read one model answer, on the record before it is used
          ...["interview", "seed", "execute", "evaluate"].flatMap((p) => p === "execute" ? ["phase_started", "phase_completed"] : ["phase_started", "model_answered", "phase_completed"]),
          "chat_run_completed"
        ])
        const runId = String(run[0]!.data.run_id)
        // each phase's model answer, whole, as the run read it
        expect(run.filter((e) => e.type === "model_answered").map((e) => [e.data.phase, e.data.run_id, e.data.text])).toEqual([
          ["interview", runId, clear.text],
          ["seed", runId, JSON.stringify({ goal: "Say hi", constraints: [], acceptance_criteria: ["it says hi"], ontology: null })],
          ["evaluate", runId, passed.text]
        ])
        expect(run.every((e) => e.stream === `chat-run-${runId}` && e.meta.session_id === reply.session_id && e.meta.correlation_id === "req-1")).toBe(true)
        expect(run.at(-1)!.data).toMatchObject({ message_id: reply.id, phase: "evaluate", passed: true })
        // the agent ran as a task the scheduler admitted, and its events carry the session
        const task = events.find((e) => e.type === "task_submitted")!
        expect(task.data).toMatchObject({ priority: "High", source: { kind: "session", id: reply.session_id } })
        expect(typesOf(events.filter((e) => e.stream === task.stream))).toEqual(["task_submitted", "task_started", "task_completed"])
        const agentEvents = events.filter((e) => e.stream.startsWith("agent-"))
        expect(agentEvents.length).toBeGreaterThan(0)
        expect(agentEvents.every((e) => e.meta.session_id === reply.session_id)).toBe(true)
        const rows = yield* (yield* SqlClient.SqlClient)<{ status: string; phase: string; seed_id: string | null; reply_id: string }>`SELECT status, phase, seed_id, reply_id FROM chat_runs`
        expect(rows).toEqual([{ status: "completed", phase: "evaluate", seed_id: expect.any(String), reply_id: reply.id }])
      })
    ))

  it.live("a seed with 3 criteria is split into an agent group whose members run in parallel", () =>
    withFake(
      Array.from({ length: 20 }, () =>
        dispatcher(
          {
            goal: "Write three notes",
            constraints: [],
            acceptance_criteria: ["`notes/a.txt` exists", "`notes/b.txt` exists", "`notes/c.txt` exists"],
            ontology: null
          },
          (body) => {
            const last = body.messages.at(-1)
            if (last.role === "tool") return { text: "wrote my note" }
            const task = String(body.messages.find((m: any) => m.role === "user" && String(m.content).includes("Your part"))?.content ?? "")
            const part = task.split("Your part")[1] ?? ""
            const file = ["a", "b", "c"].find((f) => part.includes(`notes/${f}.txt`)) ?? "none"
            // slow enough that two members are at work at the same time
            return { text: "writing it now ", delayMs: 150, toolCalls: [{ name: "write", arguments: { path: `notes/${file}.txt`, content: file } }] }
          }
        )
      ),
      (_fake, dir) =>
        Effect.gen(function*() {
          yield* (yield* Configuration).update({ tools: { policies: { write: "auto" } }, scheduler: { max_concurrent: 3 } }, user)
          const reply = yield* (yield* Orchestrator).run({ content: "write three notes" }, user)
          expect(reply.phase).toBe("evaluate")
          for (const f of ["a", "b", "c"]) expect(readFileSync(join(dir, "workspace", "notes", `${f}.txt`), "utf8")).toBe(f)
          expect(reply.reply).toContain("Agent 1")
          expect(reply.reply).toContain("Agent 3")

          const groups = yield* (yield* AgentGroups).list
          expect(groups).toHaveLength(1)
          const group = yield* (yield* AgentGroups).get(groups[0]!.id)
          expect(group).toMatchObject({ agent_count: 3, status: "completed", completed_count: 3, failed_count: 0 })
          // every member is an agent of the chat, each admitted as its own task
          const agents = yield* (yield* Agents).list({ page: 1, limit: 50, offset: 0 })
          expect(agents.items.map((a) => a.id).sort()).toEqual(group.members.map((m) => m.agent_id).sort())
          const events = yield* allEvents
          const tasks = events.filter((e) => e.type === "task_started").map((e) => e.seq)
          const ends = events.filter((e) => e.type === "task_completed").map((e) => e.seq)
          expect(tasks).toHaveLength(3)
          // the second member started before the first one ended: they ran at the same time
          expect(tasks[1]!).toBeLessThan(ends[0]!)
          expect(typesOf(events).filter((t) => t === "agent_group_member_completed")).toHaveLength(3)
        })
    ), 30_000)

  it.live("agents of chats wait for a slot: with max_concurrent 1 the second chat's agent starts after the first's ends", () =>
    withFake(
      Array.from({ length: 12 }, () =>
        dispatcher({ goal: "Answer", constraints: [], acceptance_criteria: ["an answer"], ontology: null }, () => ({ text: "an answer that takes a while", delayMs: 60 }))
      ),
      () =>
        Effect.gen(function*() {
          yield* (yield* Configuration).update({ scheduler: { max_concurrent: 1 } }, user)
          const orchestrator = yield* Orchestrator
          const [a, b] = yield* Effect.all([orchestrator.run({ content: "one" }, user), orchestrator.run({ content: "two" }, user)], { concurrency: 2 })
          expect([a.phase, b.phase]).toEqual(["evaluate", "evaluate"])
          const events = yield* allEvents
          const tasks = events.filter((e) => e.type.startsWith("task_") && e.type !== "task_submitted").map((e) => e.type)
          // never two running at once
          expect(tasks).toEqual(["task_started", "task_completed", "task_started", "task_completed"])
          const stats = yield* (yield* Scheduler).stats
          expect(stats).toMatchObject({ queued: 0, running: 0, max_concurrent: 1 })
        })
    ), 30_000)

  it.live("a run that fails is chat_run_failed with the reason, and the session says so", () =>
    withFake([clear, { status: 500 }], () =>
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        const exit = yield* Effect.exit(orchestrator.run({ content: "do the thing", session_id: "s-fail" }, user))
        expect(Exit.isFailure(exit)).toBe(true)
        const failed = (yield* allEvents).find((e) => e.type === "chat_run_failed")!
        expect(failed.data).toMatchObject({ session_id: "s-fail", phase: "seed", error: expect.stringMatching(/^the language model at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions answered 500/) })
        const session = yield* (yield* Sessions).get("s-fail")
        expect(session.agent_responses).toHaveLength(1)
        expect(session.agent_responses[0]).toMatchObject({ phase_reached: "seed", evaluation_passed: null })
        expect(session.agent_responses[0]!.content).toMatch(/^The run failed: /)
      })
    ))

  it.live("requests with one Idempotency-Key run their message once, at once or later; a failed run's retry fails alike", () =>
    withFake([clear, json({ goal: "Answer", constraints: [], acceptance_criteria: ["an answer"], ontology: null }), { text: "the answer" }, passed, clear, { status: 500 }], () =>
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        const keyed = (key: string) => ({ actor: "user:api", meta: { idempotency_key: key } })
        // two at once: the second joins the first's run
        const [a, b] = yield* Effect.all([
          orchestrator.run({ content: "answer me", session_id: "s-key" }, keyed("k-1")),
          orchestrator.run({ content: "answer me", session_id: "s-key" }, keyed("k-1"))
        ], { concurrency: "unbounded" })
        expect(a).toMatchObject({ reply: "the answer", phase: "evaluate" })
        expect(b).toEqual(a)
        // later: answered from the record
        expect(yield* orchestrator.run({ content: "answer me", session_id: "s-key" }, keyed("k-1"))).toEqual(a)
        const runs = (yield* allEvents).filter((e) => e.type === "chat_run_started")
        expect(runs).toHaveLength(1)
        // the run's own events do not carry the message's key
        expect(runs[0]!.meta.idempotency_key).toBeUndefined()
        const failedOnce = yield* Effect.exit(orchestrator.run({ content: "fail me", session_id: "s-key" }, keyed("k-2")))
        expect(Exit.isFailure(failedOnce)).toBe(true)
        yield* eventually(allEvents, (es) => es.some((e) => e.type === "chat_run_failed"))
        const retried = yield* Effect.exit(orchestrator.run({ content: "fail me", session_id: "s-key" }, keyed("k-2")))
        expect(Exit.isFailure(retried) && JSON.stringify(retried.cause)).toContain("ChatRunFailedEarlier")
        const session = yield* (yield* Sessions).get("s-key")
        expect(session.user_messages).toEqual(["answer me", "fail me"])
      })
    ))

  it.live("what a call read is on the record before the model hears of it", () => {
    // the fake answers in this process: at the agent's second request it looks at the log itself
    const seen: Array<ReadonlyArray<string>> = []
    let look: () => ReadonlyArray<string> = () => []
    const answer = dispatcher({ goal: "Read the note", constraints: [], acceptance_criteria: ["an answer"], ontology: null }, (body: any) => {
      const calls = body.messages.filter((m: any) => m.role === "tool").length
      if (calls === 0) return { toolCalls: [{ name: "read", arguments: { path: "note.txt" } }] }
      seen.push(look())
      return { text: "read it" }
    })
    return withFake(Array.from({ length: 5 }, () => answer), (_, dir) =>
      Effect.gen(function*() {
        // a connection of its own, opened once the kernel made the file: it sees what was committed (WAL), nothing that is not
        const log = new Database(join(dir, "annal.db"), { readonly: true })
        look = () =>
          log.prepare<[], { type: string }>("SELECT type FROM events WHERE stream LIKE 'tool-call-%' OR type = 'access_decided' ORDER BY seq").all().map((r) => r.type)
        yield* Effect.gen(function*() {
          yield* (yield* Workspace).write("note.txt", new TextEncoder().encode("hello"), user)
          const reply = yield* (yield* Orchestrator).run({ content: "read the note", session_id: "s-read" }, user)
          expect(reply.reply).toBe("read it")
          expect(seen).toEqual([["tool_call_requested", "access_decided", "tool_call_started", "tool_call_completed"]])
        }).pipe(Effect.ensuring(Effect.sync(() => log.close())))
      })
    )
  })

  it.live("messages sent to one session at once each get their own place in it, and their runs know it", () =>
    withFake(Array.from({ length: 3 }, () => json({ goal_clarity: 0, constraints_clarity: 0, success_clarity: 0, questions: ["Which?"] })), () =>
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        yield* Effect.forEach(["one", "two", "three"], (content) => orchestrator.run({ content, session_id: "s-many" }, user), { concurrency: "unbounded" })
        const started = (yield* allEvents).filter((e) => e.type === "chat_run_started")
        expect(started.map((e) => e.data.message_index).sort()).toEqual([0, 1, 2])
        const session = yield* (yield* Sessions).get("s-many")
        // each run's index names its own message
        const messages = (yield* allEvents).filter((e) => e.type === "message_received")
        for (const run of started) {
          const own = messages.find((m) => m.data.message_id === run.data.message_id)!
          expect(session.user_messages[run.data.message_index as number]).toBe(own.data.content)
        }
      })
    ))

  it.live("on_timeout stop: past chat_timeout_secs the run is stopped, its agent killed and its task cancelled", () =>
    withFake([
      clear,
      json({ goal: "Ramble", constraints: [], acceptance_criteria: ["rambling"], ontology: null }),
      { text: Array.from({ length: 100 }, (_, i) => `word${i}`).join(" "), delayMs: 50 }
    ], (fake) =>
      Effect.gen(function*() {
        yield* (yield* Configuration).update({ orchestrator: { chat_timeout_secs: 1, on_timeout: "stop" } }, user)
        const exit = yield* Effect.exit((yield* Orchestrator).chat({ content: "ramble on", session_id: "s-stop" }, user))
        expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("ChatTimedOut")
        const events = yield* eventually(allEvents, (es) => es.some((e) => e.type === "chat_run_failed"))
        expect(events.find((e) => e.type === "chat_run_failed")!.data).toMatchObject({ phase: "execute", error: expect.stringContaining("stopped") })
        expect(events.find((e) => e.type === "agent_stopped")!.data).toMatchObject({ reason: "killed" })
        expect(events.find((e) => e.type === "task_cancelled")).toBeDefined()
        yield* eventually(Effect.sync(() => fake.aborted()), (n) => n === 1)
        const session = yield* (yield* Sessions).get("s-stop")
        expect(session.agent_responses[0]!.content).toContain("stopped")
      })
    ), 20_000)

  it.live("a run a stop cut off mid-agent is resumed from its seed on the next start and answers in its session", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const fake = yield* Effect.promise(() =>
        startFakeOpenAi([
          clear,
          json({ goal: "Write the note", constraints: [], acceptance_criteria: ["`note.txt` exists"], ontology: null }),
          // the first agent is cut off while it streams
          { text: Array.from({ length: 200 }, (_, i) => `w${i}`).join(" "), delayMs: 30 },
          // after the restart, a fresh agent for the same seed
          { toolCalls: [{ name: "write", arguments: { path: "note.txt", content: "resumed" } }] },
          { text: "wrote note.txt" },
          passed
        ])
      )
      yield* Effect.addFinalizer(() => Effect.promise(() => fake.close()))
      const first = yield* Scope.make()
      const before = yield* Layer.buildWithScope(kernelWithModel(dir, fake), first)
      const started = yield* Effect.gen(function*() {
        yield* (yield* Configuration).update({ tools: { policies: { write: "auto" } } }, user)
        const run = yield* (yield* Orchestrator).start({ content: "write the note", session_id: "s-resume" }, user)
        yield* eventually(allEvents, (es) => es.some((e) => e.type === "agent_output" || (e.type === "agent_started")))
        yield* eventually(Effect.sync(() => fake.requests.length), (n) => n === 3)
        return run
      }).pipe(Effect.provide(before))
      yield* Scope.close(first, Exit.void)

      const after = yield* Layer.build(kernelWithModel(dir, fake))
      yield* Effect.gen(function*() {
        const session = yield* eventually((yield* Sessions).get("s-resume"), (s) => s.agent_responses.length === 1, 15_000)
        expect(session.agent_responses[0]).toMatchObject({ content: "wrote note.txt", phase_reached: "evaluate", evaluation_passed: true })
        expect(existsSync(join(dir, "workspace", "note.txt"))).toBe(true)
        // the reply is in the session a moment before the run's end is committed
        const events = yield* eventually(allEvents, (es) => es.some((e) => e.type === "chat_run_completed" && e.stream === `chat-run-${started.run_id}`))
        const run = events.filter((e) => e.stream === `chat-run-${started.run_id}`)
        const trail = run.map((e) => (e.type.startsWith("phase_") ? `${e.type}:${String(e.data.phase)}` : e.type))
        expect(trail).toEqual([
          "chat_run_started",
          "phase_started:interview",
          "model_answered",
          "phase_completed:interview",
          "phase_started:seed",
          "model_answered",
          "phase_completed:seed",
          "phase_started:execute",
          "chat_run_resumed",
          "phase_started:execute",
          "phase_completed:execute",
          "phase_started:evaluate",
          // the criteria name note.txt: the evaluation's look for it is on the record first
          "workspace_checked",
          "model_answered",
          "phase_completed:evaluate",
          "chat_run_completed"
        ])
        expect(run.find((e) => e.type === "workspace_checked")!.data).toMatchObject({ paths: ["note.txt"], missing: [] })
        expect(run.find((e) => e.type === "chat_run_resumed")!).toMatchObject({ actor: "system:orchestrator", data: { phase: "execute", reason: "interrupted by a restart" } })
        // the agent the stop cut off was failed explicitly; one seed only
        expect(events.filter((e) => e.type === "agent_failed").map((e) => e.data.error)).toEqual(["interrupted by a restart"])
        expect(events.filter((e) => e.type === "seed_created")).toHaveLength(1)
        const verified = yield* (yield* EventStore).verify
        expect(verified.valid).toBe(true)
      }).pipe(Effect.provide(after))
    }).pipe(Effect.scoped), 40_000)
})
