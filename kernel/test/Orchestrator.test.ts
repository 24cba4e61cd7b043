import { describe, expect, it } from "@effect/vitest"
import { Configuration, directReplyStream, INTERVIEW_PROMPT, Memory, NOT_CONFIGURED, Orchestrator, OrchestratorDecide, Seeds, Sessions, WORK_INTERVIEW_PROMPT } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect, Either, Exit, Fiber, Layer, Stream } from "effect"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FakeOpenAi, type FakeOptions, type ScriptedReply, startFakeOpenAi } from "./fixtures/fakeOpenAi.js"
import { eventually, kernelWithModel, realPause } from "./support.js"

const kernel = kernelWithModel
type KernelServices = Layer.Layer.Success<ReturnType<typeof kernel>>
const tempDir = () => mkdtempSync(join(tmpdir(), "annal-orchestrator-"))
const user = { actor: "user:api" }

const withFake = <A, E>(
  script: Array<ScriptedReply | ((body: any) => ScriptedReply)>,
  body: (fake: FakeOpenAi, dir: string) => Effect.Effect<A, E, KernelServices>,
  dir = tempDir(),
  options: FakeOptions = {}
) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startFakeOpenAi(script, options)),
    (fake) => body(fake, dir).pipe(Effect.provide(kernel(dir, fake))),
    (fake) => Effect.promise(() => fake.close())
  )

const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })

const allEvents = Effect.gen(function*() {
  const store = yield* EventStore
  return yield* store.read(1, (yield* store.head).seq)
})

/** The whole loop: an ambiguous message, then a clear one through two generations. */
export const wholeLoopScript = (): Array<ScriptedReply | ((body: any) => ScriptedReply)> => [
  // message 1: interview, too ambiguous
  json({ goal_clarity: 0.3, constraints_clarity: 0.2, success_clarity: 0.1, questions: ["Which file should hold it?", "What should it say?"] }),
  // message 2: the interview sees the earlier turns and passes
  (body) => {
    const contents = body.messages.map((m: any) => m.content).join("\n")
    return contents.includes("Which file should hold it?") && contents.includes("write a greeting")
      ? { text: "Sure: " + JSON.stringify({ goal_clarity: 0.9, constraints_clarity: 0.85, success_clarity: 0.95, questions: [] }) }
      : { text: "history missing" }
  },
  // seed
  { text: "```json\n" + JSON.stringify({
    goal: "Write a greeting",
    constraints: ["keep it short"],
    acceptance_criteria: ["the file `notes/greeting.txt` exists"],
    ontology: { name: "Greeting", description: "a note", fields: [{ name: "text", field_type: "string", description: "the words" }] }
  }) + "\n```" },
  // generation 1: the agent writes the wrong file
  { toolCalls: [{ name: "write", arguments: { path: "notes/other.txt", content: "hi" } }] },
  { text: "I wrote notes/other.txt." },
  // (the evaluation fails mechanically: notes/greeting.txt is missing) evolve
  json({ goal: "Write a greeting to notes/greeting.txt" }),
  // generation 2
  { toolCalls: [{ name: "write", arguments: { path: "notes/greeting.txt", content: "hello" } }] },
  { text: "Done: notes/greeting.txt says hello." },
  // the model's evaluation
  json({ score: 0.9, passed: true, summary: "the greeting is there" })
]

describe("orchestrator: decide", () => {
  it("extracts the first JSON object from prose and fences", () => {
    expect(OrchestratorDecide.extractJson("sure {\"a\": {\"b\": \"}\"}} and {\"c\": 1}")).toEqual({ a: { b: "}" } })
    expect(OrchestratorDecide.extractJson("{not json} then {\"x\": 2}")).toEqual({ x: 2 })
    expect(OrchestratorDecide.extractJson("no json here")).toBeUndefined()
  })
  it("gates the interview on ambiguity 0.2", () => {
    const answer = (c: number) => ({ goal_clarity: c, constraints_clarity: c, success_clarity: c, questions: ["q?"] })
    expect(OrchestratorDecide.decideInterview(answer(0.8)).passed).toBe(true)
    expect(OrchestratorDecide.decideInterview(answer(0.79)).passed).toBe(false)
    expect(OrchestratorDecide.decideInterview({ ...answer(0.1), questions: [] }).questions).toHaveLength(1)
  })
  it("reads a direct answer, and decides between answering, asking and working", () => {
    const direct = OrchestratorDecide.parseInterview("```json\n{\"asks_for_work\": false, \"reply\": \" Hi! \"}\n```")
    expect(direct).toEqual(Either.right({ asks_for_work: false, reply: "Hi!", goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }))
    // no reply: it is work after all, and then the scores are needed
    expect(Either.isLeft(OrchestratorDecide.parseInterview("{\"asks_for_work\": false, \"reply\": \"\"}"))).toBe(true)
    const answer = Either.getOrThrow(direct)
    expect(OrchestratorDecide.decideAfterInterview(answer, 0.2, true)).toEqual({ _tag: "Respond", reply: "Hi!" })
    expect(OrchestratorDecide.decideAfterInterview(answer, 0.2, false)._tag).toBe("Proceed")
    const work = { asks_for_work: true, reply: "", goal_clarity: 0.1, constraints_clarity: 0.1, success_clarity: 0.1, questions: ["Which?"] }
    expect(OrchestratorDecide.decideAfterInterview(work, 0.2, true)).toMatchObject({ _tag: "Ask", questions: ["Which?"] })
  })
  it("streams a direct answer's text out of the interview's JSON as it arrives, and nothing of work", () => {
    const text = "Sure: {\"asks_for_work\": false, \"reply\": \"Hello \\\"you\\\" \\u00e9!\", \"questions\": []} done"
    const stream = directReplyStream()
    const out: Array<string> = []
    for (let i = 0; i < text.length; i += 5) out.push(stream.push(text.slice(i, i + 5)))
    expect(out.join("")).toBe("Hello \"you\" é!")
    expect(out.filter((x) => x !== "").length).toBeGreaterThan(1)
    const work = directReplyStream()
    expect(work.push("{\"asks_for_work\": true, \"reply\": \"not for you\"}")).toBe("")
  })
  it("treats an unreadable answer as a model error saying what is wrong, without the model's text", () => {
    expect(OrchestratorDecide.parseInterview("I think it is clear")).toEqual(Either.left(expect.objectContaining({ message: "the model's interview answer is not the JSON asked for: no JSON object in the answer" })))
    expect(Either.isLeft(OrchestratorDecide.parseInterview("I think it is clear"))).toBe(true)
    expect(Either.isLeft(OrchestratorDecide.parseSeedSpec("{\"goal\": \"\"}"))).toBe(true)
    expect(Either.isLeft(OrchestratorDecide.parseEvaluation("{\"score\": 0.5}"))).toBe(true)
    expect(OrchestratorDecide.parseEvaluation("{\"score\": 1.5, \"passed\": true}")).toEqual(Either.right({ score: 1, passed: true, summary: null }))
  })
  it("finds the paths criteria name and which are missing", () => {
    expect(OrchestratorDecide.pathsNamed("`notes/a.md` and `README` and `../x.txt` and `/etc/passwd`")).toEqual(["notes/a.md"])
    expect(OrchestratorDecide.missingPaths(["`a.txt`", "`b.txt`"], (p) => p === "a.txt")).toEqual(["b.txt"])
    expect(OrchestratorDecide.shouldEvolve(false, 1, 3)).toBe(true)
    expect(OrchestratorDecide.shouldEvolve(false, 3, 3)).toBe(false)
    expect(OrchestratorDecide.shouldEvolve(true, 1, 3)).toBe(false)
  })
})

describe("Orchestrator", () => {
  it.live("interviews, seeds, executes, evaluates and evolves", () =>
    withFake(wholeLoopScript(), (fake, dir) =>
      Effect.gen(function*() {
        yield* (yield* Configuration).update({ tools: { policies: { write: "auto" } } }, user)
        yield* (yield* Memory).store({ content: "a greeting should be short: write a greeting of one word" }, user)
        const orchestrator = yield* Orchestrator
        const first = yield* orchestrator.chat({ content: "please write a greeting" }, user)
        expect(first).toMatchObject({ echo: "please write a greeting", phase: "interview", reply: "1. Which file should hold it?\n2. What should it say?" })
        const second = yield* orchestrator.chat({ content: "a file with hello", session_id: first.session_id }, user)
        expect(second).toMatchObject({ session_id: first.session_id, phase: "evaluate", reply: "Done: notes/greeting.txt says hello.", echo: "a file with hello" })
        expect(fake.script).toHaveLength(0)
        expect(readFileSync(join(dir, "workspace", "notes", "greeting.txt"), "utf8")).toBe("hello")
        expect(existsSync(join(dir, "workspace", "notes", "other.txt"))).toBe(true)

        const store = yield* EventStore
        const events = yield* store.read(1, (yield* store.head).seq)
        const trail = events
          .filter((e) => ["phase_started", "phase_completed", "seed_created", "evaluation_complete"].includes(e.type))
          .map((e) => (e.type.startsWith("phase_") ? `${e.type}:${String(e.data.phase)}` : e.type))
        expect(trail).toEqual([
          "phase_started:interview",
          "phase_completed:interview",
          "phase_started:interview",
          "phase_completed:interview",
          "phase_started:seed",
          "seed_created",
          "phase_completed:seed",
          "phase_started:execute",
          "phase_completed:execute",
          "phase_started:evaluate",
          "evaluation_complete",
          "phase_completed:evaluate",
          "phase_started:evolve",
          "seed_created",
          "phase_completed:evolve",
          "phase_started:execute",
          "phase_completed:execute",
          "phase_started:evaluate",
          "evaluation_complete",
          "phase_completed:evaluate"
        ])
        expect(events.find((e) => e.type === "phase_started")!.data).toEqual({ session_id: first.session_id, phase: "interview", run_id: expect.any(String) })

        const created = events.filter((e) => e.type === "seed_created")
        const child = String(created[1]!.data.seed_id)
        const lineage = yield* (yield* Seeds).evolution(child)
        expect(lineage).toMatchObject([
          { id: String(created[0]!.data.seed_id), generation: 0, parent_id: null, score: 0, passed: false, goal: "Write a greeting" },
          { id: child, generation: 1, parent_id: String(created[0]!.data.seed_id), score: 0.9, passed: true, goal: "Write a greeting to notes/greeting.txt" }
        ])

        const session = yield* (yield* Sessions).get(first.session_id)
        expect(session.user_messages).toEqual(["please write a greeting", "a file with hello"])
        expect(session.agent_responses.map((r) => [r.content, r.phase_reached, r.evaluation_passed, r.seed_id])).toEqual([
          [first.reply, "interview", null, null],
          [second.reply, "evaluate", true, child]
        ])
        // the agent got the seed as its task, with the criteria
        const task = JSON.stringify(fake.requests[3].messages)
        expect(task).toContain("notes/greeting.txt")
        // with the recalled memory, the earlier turns and the active persona's system prompt
        expect(task).toContain("a greeting should be short")
        expect(task).toContain("Which file should hold it?")
        expect(fake.requests[3].messages[0].role).toBe("system")
      })
    ))

  it.live("a model that answers everything in prose gets one repair request per phase, and the run goes on with each fallback", () =>
    withFake([], (fake) =>
      Effect.gen(function*() {
        const reply = yield* (yield* Orchestrator).chat({ content: "tell me a story about a lighthouse" }, user)
        expect(reply).toMatchObject({ phase: "evaluate", reply: "Once upon a time there was a lighthouse." })
        // interview ×2, seed ×2, the agent, evaluation ×2
        expect(fake.requests).toHaveLength(7)
        const repair = fake.requests[1].messages
        expect(repair.at(-2)).toEqual({ role: "assistant", content: "Once upon a time there was a lighthouse." })
        expect(repair.at(-1).content).toContain("the model's interview answer is not the JSON asked for: no JSON object in the answer")
        expect(repair.at(-1).content).toContain("\"goal_clarity\"")
        // the agent worked on the user's message as the goal
        expect(JSON.stringify(fake.requests[4].messages)).toContain("Goal: tell me a story about a lighthouse")
        const events = yield* allEvents
        const completed = events.filter((e) => e.type === "phase_completed").map((e) => e.data)
        expect(completed.map((d) => [d.phase, d.fallback ?? null, d.repaired ?? null])).toEqual([
          ["interview", "let_through", true],
          ["seed", "message_as_goal", true],
          ["execute", null, null],
          ["evaluate", "mechanical_result", true]
        ])
        expect(completed[0]).toMatchObject({ outcome: "proceed", detail: "the model's interview answer is not the JSON asked for: no JSON object in the answer" })
        expect(events.find((e) => e.type === "seed_created")!.data).toMatchObject({ goal: "tell me a story about a lighthouse", acceptance_criteria: [] })
        expect(events.find((e) => e.type === "evaluation_complete")!.data).toMatchObject({ passed: true })
      }), undefined, { otherwise: () => ({ text: "Once upon a time there was a lighthouse." }) }))

  it.live("an answer that is broken at first and valid after the repair request is read, and says it was repaired", () =>
    withFake([
      { text: "{\"goal_clarity\": 0.9, \"constraints_clarity\": " },
      json({ goal_clarity: 0.2, constraints_clarity: 0.2, success_clarity: 0.2, questions: ["Which colour?"] })
    ], (fake) =>
      Effect.gen(function*() {
        const reply = yield* (yield* Orchestrator).chat({ content: "paint it" }, user)
        expect(reply).toMatchObject({ phase: "interview", reply: "Which colour?" })
        expect(fake.requests).toHaveLength(2)
        expect(fake.requests[1].messages.at(-1).content).toContain("no JSON object in the answer")
        const completed = (yield* allEvents).find((e) => e.type === "phase_completed")!.data
        expect(completed).toEqual({ session_id: reply.session_id, phase: "interview", run_id: expect.any(String), outcome: "questions", repaired: true })
      })
    ))

  it.live("an unreadable refinement stops evolving: the last answer is the reply, phase evolve", () =>
    withFake([
      json({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }),
      json({ goal: "Write the report", constraints: [], acceptance_criteria: ["`report.md` exists"], ontology: null }),
      { text: "I would rather talk about it." },
      // (report.md is missing: the evaluation fails without the model) evolve, twice in prose
      { text: "Try harder next time." },
      { text: "Really, just try harder." }
    ], (fake) =>
      Effect.gen(function*() {
        const reply = yield* (yield* Orchestrator).chat({ content: "write the report" }, user)
        expect(reply).toMatchObject({ phase: "evolve", reply: "I would rather talk about it." })
        expect(fake.script).toHaveLength(0)
        const events = yield* allEvents
        expect(events.filter((e) => e.type === "seed_created")).toHaveLength(1)
        const evolve = events.find((e) => e.type === "phase_completed" && e.data.phase === "evolve")!.data
        expect(evolve).toMatchObject({ fallback: "stop_evolving", repaired: true, detail: "the model's refined goal is not the JSON asked for: no JSON object in the answer" })
        expect(events.find((e) => e.type === "chat_run_completed")!.data).toMatchObject({ phase: "evolve", passed: false })
      })
    ))

  it.live("a greeting is answered in the interview's one model call (phase respond), its words streamed, with no seed or agent", () =>
    withFake([{ text: JSON.stringify({ asks_for_work: false, reply: "Hello! How can I help you today?", goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }) }], (fake) =>
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        const streamed: Array<string> = []
        const tokens = yield* orchestrator.tokens.pipe(
          Stream.runForEach((t) => Effect.sync(() => t.phase === "respond" && streamed.push(t.text))),
          Effect.fork
        )
        yield* realPause(20)
        const reply = yield* orchestrator.chat({ content: "hello there", session_id: "greet" }, user)
        expect(reply).toMatchObject({ phase: "respond", reply: "Hello! How can I help you today?", session_id: "greet" })
        expect(fake.requests).toHaveLength(1)
        expect(fake.requests[0].messages[0].content).toBe(INTERVIEW_PROMPT)
        const events = yield* allEvents
        expect(events.some((e) => e.type === "seed_created" || e.type === "agent_created")).toBe(false)
        expect(events.filter((e) => e.type.startsWith("phase_")).map((e) => `${e.type}:${String(e.data.phase)}`)).toEqual([
          "phase_started:interview", "phase_completed:interview", "phase_started:respond", "phase_completed:respond"
        ])
        expect(events.find((e) => e.type === "phase_completed")!.data).toMatchObject({ outcome: "respond" })
        const session = yield* (yield* Sessions).get("greet")
        expect(session.agent_responses.map((r) => [r.content, r.phase_reached])).toEqual([["Hello! How can I help you today?", "respond"]])
        // the reply's words as they came, not the interview's JSON
        yield* eventually(Effect.sync(() => streamed.join("")), (text) => text === "Hello! How can I help you today?")
        expect(streamed.length).toBeGreaterThan(1)
        yield* Fiber.interrupt(tokens)
      })
    ))

  it.live("with orchestrator.direct_answers off, the interview asks only how clear the work is", () =>
    withFake([
      // a model that would answer directly anyway is not listened to
      json({ asks_for_work: false, reply: "Hi!", goal_clarity: 0.1, constraints_clarity: 0.1, success_clarity: 0.1, questions: ["What work?"] })
    ], (fake) =>
      Effect.gen(function*() {
        yield* (yield* Configuration).update({ orchestrator: { direct_answers: false } }, user)
        const reply = yield* (yield* Orchestrator).chat({ content: "hello" }, user)
        expect(reply).toMatchObject({ phase: "interview", reply: "What work?" })
        expect(fake.requests[0].messages[0].content).toBe(WORK_INTERVIEW_PROMPT)
        expect(fake.requests[0].response_format.json_schema.name).toBe("annal_interview")
        expect(Object.keys(fake.requests[0].response_format.json_schema.schema.properties)).not.toContain("asks_for_work")
      })
    ))

  it.live("the structured phases ask for their JSON schema with response_format", () =>
    withFake([json({ goal_clarity: 0, constraints_clarity: 0, success_clarity: 0, questions: ["Why?"] })], (fake) =>
      Effect.gen(function*() {
        yield* (yield* Orchestrator).chat({ content: "do it" }, user)
        const format = fake.requests[0].response_format
        expect(format).toMatchObject({ type: "json_schema", json_schema: { name: "annal_interview_direct", strict: true } })
        expect(format.json_schema.schema).toMatchObject({
          type: "object",
          required: ["asks_for_work", "reply", "goal_clarity", "constraints_clarity", "success_clarity", "questions"],
          additionalProperties: false
        })
        expect(format.json_schema.schema.$schema).toBeUndefined()
      })
    ))

  it.live("with no model the chat fails with ModelUnavailable and records nothing", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit((yield* Orchestrator).chat({ content: "hello" }, user))
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("ModelUnavailable")
      expect(JSON.stringify(exit)).toContain(NOT_CONFIGURED.slice(0, 40))
      const store = yield* EventStore
      expect((yield* store.head).seq === 0 || !(yield* store.read(1, (yield* store.head).seq)).some((e) => e.type === "message_received")).toBe(true)
    }).pipe(Effect.provide(kernel(tempDir()))))

  it.live("times out while the run goes on in the background", () =>
    withFake([{ text: JSON.stringify({ goal_clarity: 0.1, constraints_clarity: 0.1, success_clarity: 0.1, questions: ["What do you mean?"] }, null, 2), delayMs: 300 }], (fake) =>
      Effect.gen(function*() {
        yield* (yield* Configuration).update({ orchestrator: { chat_timeout_secs: 1 } }, user)
        const exit = yield* Effect.exit((yield* Orchestrator).chat({ content: "hmm", session_id: "slow-1" }, user))
        expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("ChatTimedOut")
        // the run finishes after all and records its reply
        for (let i = 0; i < 300; i++) {
          const session = yield* (yield* Sessions).get("slow-1").pipe(Effect.orElseSucceed(() => undefined))
          if (session !== undefined && session.agent_responses.length === 1) break
          yield* Effect.sleep("20 millis")
        }
        const session = yield* (yield* Sessions).get("slow-1")
        expect(session.agent_responses.map((r) => r.content)).toEqual(["What do you mean?"])
        expect(fake.aborted()).toBe(0)
      })
    ), 20_000)
})
