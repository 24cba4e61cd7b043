import { describe, expect, it } from "@effect/vitest"
import {
  Agents,
  AgentsDecide,
  Budgets,
  Configuration,
  Kernel,
  NOT_CONFIGURED,
  Permissions,
  PermissionsDecide,
  Rebuild,
  Scheduler,
  Supervisor,
  publicView
} from "@annal/kernel"
import { EventStore, type StoredEvent } from "@annal/store"
import { Effect, Either, Exit, Fiber, Layer, Logger } from "effect"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FakeOpenAi, type ScriptedReply, startFakeOpenAi } from "./fixtures/fakeOpenAi.js"
import { kernelWithModel } from "./support.js"

const kernel = kernelWithModel
type KernelServices = Layer.Layer.Success<ReturnType<typeof kernel>>
const tempDir = () => mkdtempSync(join(tmpdir(), "annal-agents-"))
const user = { actor: "user:api" }

/** Runs `body` against a kernel whose model is a fresh fake with `script`. */
const withFake = <A, E>(script: Array<ScriptedReply>, body: (fake: FakeOpenAi, dir: string) => Effect.Effect<A, E, KernelServices>, dir = tempDir()) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startFakeOpenAi(script)),
    (fake) => body(fake, dir).pipe(Effect.provide(kernel(dir, fake))),
    (fake) => Effect.promise(() => fake.close())
  )

const allEvents = Effect.gen(function*() {
  const store = yield* EventStore
  return yield* store.read(1, (yield* store.head).seq)
})
const agentEvents = (events: ReadonlyArray<StoredEvent>, agentId: string) =>
  events.filter((e) => e.data.agent_id === agentId && (e.type.startsWith("agent_") || e.type.startsWith("tool_call_")))

const waitFor = (what: string, test: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (test()) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

describe("agents: decide", () => {
  it("refuses an empty name and an id taken", () => {
    expect(Either.isLeft(AgentsDecide.decideCreate(false, { agent_id: "a", name: "  " }))).toBe(true)
    expect(Either.isLeft(AgentsDecide.decideCreate(true, { agent_id: "a", name: "x" }))).toBe(true)
    expect(AgentsDecide.decideCreate(false, { agent_id: "a", name: "x", seed_id: "s" })).toEqual(
      Either.right({ type: "agent_created", data: { agent_id: "a", name: "x", seed_id: "s" } })
    )
  })
  it("stops and fails only a live agent", () => {
    expect(AgentsDecide.decideStop("a", "Running", "killed")).toHaveLength(1)
    expect(AgentsDecide.decideStop("a", "Stopped", "killed")).toHaveLength(0)
    expect(AgentsDecide.decideFail("a", "Failed", "x")).toHaveLength(0)
    expect(AgentsDecide.decideFail("a", "Starting", "x")).toHaveLength(1)
  })
})

describe("Supervisor", () => {
  it.live("runs the tool loop through the gate: write then read, the final text returned, usage charged", () =>
    withFake(
      [
        { toolCalls: [{ name: "write", arguments: { path: "notes/hello.txt", content: "hello from the agent" } }], usage: { prompt_tokens: 100, completion_tokens: 10 } },
        { toolCalls: [{ name: "read", arguments: { path: "notes/hello.txt" } }], usage: { prompt_tokens: 150, completion_tokens: 10 } },
        { text: "The file says hello from the agent.", usage: { prompt_tokens: 200, completion_tokens: 30 } }
      ],
      (fake, dir) =>
        Effect.gen(function*() {
          const supervisor = yield* Supervisor
          yield* (yield* Configuration).update({ tools: { policies: { write: "auto" } } }, user)
          yield* (yield* Budgets).set("writer-1", { token_budget: 10_000, calls_budget: 10, window_secs: 3600 }, user)
          const tokens: Array<string> = []
          const result = yield* supervisor.run(
            {
              agent_id: "writer-1",
              name: "write-a-note",
              goal: "Write hello to notes/hello.txt and read it back",
              seed_id: "seed-1",
              system_prompt: "You are careful.",
              onEvent: (e) => Effect.sync(() => (e._tag === "Token" ? tokens.push(e.text) : undefined))
            },
            user
          )
          expect(result).toMatchObject({ agent_id: "writer-1", text: "The file says hello from the agent.", steps: 3, reason: "completed" })
          expect(tokens.join("")).toBe("The file says hello from the agent.")
          expect(readFileSync(join(dir, "workspace", "notes", "hello.txt"), "utf8")).toBe("hello from the agent")

          const events = agentEvents(yield* allEvents, "writer-1")
          const types = events.map((e) => e.type)
          expect(types[0]).toBe("agent_created")
          expect(types[1]).toBe("agent_started")
          expect(types.at(-1)).toBe("agent_stopped")
          expect(events.at(-1)!.data).toEqual({ agent_id: "writer-1", reason: "completed" })
          expect(types.filter((t) => t === "tool_call_completed")).toHaveLength(2)
          expect(types.indexOf("tool_call_requested")).toBeGreaterThan(types.indexOf("agent_started"))
          expect(types.filter((t) => t === "agent_output")).toHaveLength(3)
          // the model's text is on the record, but a live stream never shows it
          const output = events.filter((e) => e.type === "agent_output").at(-1)!
          expect(output.data.text).toBe("The file says hello from the agent.")
          expect(JSON.stringify(publicView(output))).not.toContain("hello from the agent")

          // the model saw the tools and each result, answered by call id
          expect(fake.requests[0].tools.map((t: any) => t.function.name)).toContain("write")
          expect(fake.requests[0].messages[0]).toMatchObject({ role: "system", content: "You are careful." })
          const second = fake.requests[1].messages
          expect(second.at(-1)).toMatchObject({ role: "tool", content: expect.stringContaining("wrote 20 bytes") })
          expect(fake.requests[2].messages.at(-1)).toMatchObject({ role: "tool", content: "hello from the agent" })

          // each answer is on the agent's stream before it is used (before the usage is charged and
          // its step recorded): the tool calls as the model made them, the text, the usage
          const log = yield* allEvents
          const stream = log.filter((e) => e.stream === "agent-writer-1")
          const answers = stream.filter((e) => e.type === "model_answered")
          expect(answers.map((e) => e.data.step)).toEqual([1, 2, 3])
          const calls = fake.requests[1].messages.at(-2).tool_calls
          expect(answers[0]!.data).toMatchObject({
            agent_id: "writer-1",
            text: "",
            tool_calls: [{ id: calls[0].id, name: "write", arguments: JSON.stringify({ path: "notes/hello.txt", content: "hello from the agent" }) }],
            prompt_tokens: 100,
            completion_tokens: 10
          })
          expect(answers[2]!.data).toMatchObject({ text: "The file says hello from the agent.", tool_calls: [], prompt_tokens: 200, completion_tokens: 30, finish_reason: "stop" })
          expect(new Set(answers.map((e) => e.data.request_sha256)).size).toBe(3)
          for (const answer of answers) {
            const charged = log.find((e) => e.type === "budget_charged" && e.seq > answer.seq)!
            const output = stream.find((e) => e.type === "agent_output" && e.data.step === answer.data.step)!
            expect(answer.seq).toBeLessThan(charged.seq)
            expect(answer.seq).toBeLessThan(output.seq)
          }
          // what each tool gave the model is on the record whole
          expect(log.filter((e) => e.type === "tool_call_completed" && e.data.agent_id === "writer-1").map((e) => e.data.output)).toEqual([
            fake.requests[1].messages.at(-1).content,
            "hello from the agent"
          ])
          expect(JSON.stringify(answers.map(publicView))).not.toContain("hello")

          // 2 calls reserved; 500 tokens charged as the model reported them
          const budget = yield* (yield* Budgets).get("writer-1")
          expect(budget.calls_remaining).toBe(8)
          expect(budget.tokens_remaining).toBe(10_000 - 500)

          const row = yield* (yield* Agents).get("writer-1")
          expect(row).toMatchObject({ status: "Stopped", name: "write-a-note", seed_id: "seed-1", steps: 3, tool_calls: 2, tokens: 500, stop_reason: "completed" })
          const page = yield* (yield* Agents).list({ page: 1, limit: 10, offset: 0 })
          expect(page).toMatchObject({ total: 1, page: 1, limit: 10, items: [{ id: "writer-1", name: "write-a-note", status: "Stopped", seed_id: "seed-1" }] })
          expect(yield* supervisor.running).toEqual([])
          // the view is a projection of the log
          expect((yield* Rebuild.rebuild(Kernel.projections)).equal).toBe(true)
        })
    ), 30_000)

  it.live("a permission denial goes back to the model as a tool error and the loop goes on", () =>
    withFake(
      [{ toolCalls: [{ name: "exec", arguments: { argv: ["echo", "hi"] } }] }, { text: "I may not run commands." }],
      (fake) =>
        Effect.gen(function*() {
          const result = yield* (yield* Supervisor).run({ agent_id: "denied-1", name: "try-exec", goal: "run echo" }, user)
          expect(result.text).toBe("I may not run commands.")
          const tool = fake.requests[1].messages.at(-1)
          expect(tool).toMatchObject({ role: "tool", content: expect.stringContaining("permission denied") })
          const types = agentEvents(yield* allEvents, "denied-1").map((e) => e.type)
          expect(types).toContain("tool_call_denied")
          expect(types.at(-1)).toBe("agent_stopped")
        })
    ), 30_000)

  it.live("max_steps ends a loop that keeps calling tools", () =>
    withFake(
      [{ toolCalls: [{ name: "ls", arguments: {} }], text: "looking" }, { toolCalls: [{ name: "ls", arguments: {} }], text: "still looking" }],
      (fake) =>
        Effect.gen(function*() {
          const result = yield* (yield* Supervisor).run({ agent_id: "loop-1", name: "loop", goal: "look", max_steps: 2 }, user)
          expect(result).toMatchObject({ reason: "max_steps", steps: 2, text: "still looking" })
          expect(fake.requests).toHaveLength(2)
          expect((yield* (yield* Agents).get("loop-1")).stop_reason).toBe("max_steps")
        })
    ), 30_000)

  it.live("a model failure is agent_failed with its message", () =>
    withFake([{ status: 500 }], () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit((yield* Supervisor).run({ agent_id: "fail-1", name: "fails", goal: "x" }, user))
        expect(Exit.isFailure(exit)).toBe(true)
        const row = yield* (yield* Agents).get("fail-1")
        expect(row.status).toBe("Failed")
        expect(row.error).toContain("500")
        const last = agentEvents(yield* allEvents, "fail-1").at(-1)!
        expect(last.type).toBe("agent_failed")
      })), 30_000)

  it.live("kill interrupts a running agent: agent_stopped killed, the model request aborted", () =>
    withFake([{ text: "one two three four five six seven eight nine ten eleven twelve", delayMs: 300 }], (fake) =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor
        const handle = yield* supervisor.start({ agent_id: "slow-1", name: "slow", goal: "talk slowly" }, user)
        const waiting = yield* Effect.fork(handle.result)
        yield* waitFor("the model request", () => fake.requests.length === 1)
        expect((yield* (yield* Agents).get("slow-1")).status).toBe("Running")
        expect(yield* supervisor.running).toEqual(["slow-1"])
        yield* supervisor.kill("slow-1", user)
        const exit = yield* Fiber.await(waiting)
        expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("AgentKilled")
        const row = yield* (yield* Agents).get("slow-1")
        expect(row).toMatchObject({ status: "Stopped", stop_reason: "killed" })
        const events = agentEvents(yield* allEvents, "slow-1")
        expect(events.map((e) => e.type)).toEqual(["agent_created", "agent_started", "agent_stopped"])
        expect(events.at(-1)!.data).toEqual({ agent_id: "slow-1", reason: "killed" })
        yield* waitFor("the aborted request", () => fake.aborted() === 1)
        expect(yield* supervisor.running).toEqual([])
        // killing it again changes nothing; an unknown agent is EntityNotFound
        yield* supervisor.kill("slow-1", user)
        expect(agentEvents(yield* allEvents, "slow-1")).toHaveLength(3)
        const unknown = yield* Effect.flip(supervisor.kill("nobody", user))
        expect(unknown._tag).toBe("EntityNotFound")
      })), 30_000)

  it.live("a second start of an id running here, or on the record, fails and leaves the first alone", () =>
    withFake([{ text: "slowly, the first one answers", delayMs: 300 }, { text: "never asked" }], (fake) =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor
        // both at once: one of them starts, the other is refused
        const [first, second] = yield* Effect.all([
          Effect.either(supervisor.start({ agent_id: "twice-1", name: "twice", goal: "answer" }, user)),
          Effect.either(supervisor.start({ agent_id: "twice-1", name: "twice", goal: "answer again" }, user))
        ], { concurrency: 2 })
        const started = [first, second].filter(Either.isRight)
        expect(started).toHaveLength(1)
        expect([first, second].filter(Either.isLeft).map((e) => e.left.message)).toEqual(["agent_id: agent twice-1 exists already"])
        // and while it runs
        yield* waitFor("the model request", () => fake.requests.length === 1)
        expect((yield* Effect.flip(supervisor.start({ agent_id: "twice-1", name: "twice", goal: "a third" }, user))).message).toContain("exists already")
        const result = yield* started[0]!.right.result
        expect(result.text).toBe("slowly, the first one answers")
        // and after it ended
        expect((yield* Effect.flip(supervisor.start({ agent_id: "twice-1", name: "twice", goal: "a fourth" }, user))).message).toContain("exists already")
        expect(fake.requests).toHaveLength(1)
        expect(agentEvents(yield* allEvents, "twice-1").map((e) => e.type)).toEqual(["agent_created", "agent_started", "agent_output", "agent_stopped"])
      })), 30_000)

  it.live("kill during an exec call kills the process group and records the call as interrupted", () =>
    withFake([{ toolCalls: [{ name: "exec", arguments: { argv: ["sh", "-c", "echo $$ > pid.txt; sleep 30"] } }] }], (_fake, dir) =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor
        yield* (yield* Configuration).update({ tools: { policies: { exec: "auto" }, exec_allowlist: ["sh"] } }, user)
        yield* (yield* Permissions).update("exec-1", { allowed_tools: [...PermissionsDecide.DEFAULT_TOOLS, "exec"] }, user)
        const handle = yield* supervisor.start({ agent_id: "exec-1", name: "sleeper", goal: "sleep" }, user)
        const pidFile = join(dir, "workspace", "pid.txt")
        yield* waitFor("the process", () => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "")
        const pid = Number(readFileSync(pidFile, "utf8").trim())
        const alive = () => {
          try {
            process.kill(pid, 0)
            return true
          } catch {
            return false
          }
        }
        expect(alive()).toBe(true)
        const started = Date.now()
        yield* supervisor.kill("exec-1", user)
        expect(Date.now() - started).toBeLessThan(5000)
        expect(Exit.isFailure(yield* Effect.exit(handle.result))).toBe(true)
        yield* waitFor("the process to end", () => !alive())
        const events = agentEvents(yield* allEvents, "exec-1")
        expect(events.find((e) => e.type === "tool_call_failed")!.data).toMatchObject({ reason: "interrupted: the agent was stopped" })
        expect(events.at(-1)!.data).toEqual({ agent_id: "exec-1", reason: "killed" })
      })), 30_000)

  it.live("a restart fails the agents it cut off, once", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* withFake([{ text: "a b c d e f g h i j k l m n o p", delayMs: 300 }], (fake) =>
        Effect.gen(function*() {
          yield* (yield* Supervisor).start({ agent_id: "cut-1", name: "cut", goal: "talk" }, user)
          yield* waitFor("the model request", () => fake.requests.length === 1)
        }), dir)
      // the start-up sequence's steps, in their order, each saying what it did
      const logged: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => {
        const text = (Array.isArray(message) ? message : [message]).join(" ")
        if (text.startsWith("start-up ")) logged.push(text)
      }))
      const after = (yield* Effect.gen(function*() {
        const row = yield* (yield* Agents).get("cut-1")
        const failed = agentEvents(yield* allEvents, "cut-1").filter((e) => e.type === "agent_failed")
        return { row, failed }
      }).pipe(Effect.provide(kernel(dir)), Effect.provide(capture)))
      expect(after.row).toMatchObject({ status: "Failed", error: "interrupted by a restart" })
      expect(after.failed).toHaveLength(1)
      expect(logged.map((l) => l.replace(/: .*/, ""))).toEqual([
        "start-up 1/5 workspace",
        "start-up 2/5 skills",
        "start-up 3/5 agents",
        "start-up 4/5 scheduler",
        "start-up 5/5 chat runs"
      ])
      expect(logged[2]).toBe("start-up 3/5 agents: 1 agent(s) cut off by the last stop failed: cut-1")
      logged.length = 0
      const again = yield* Effect.map(allEvents, (events) => agentEvents(events, "cut-1").filter((e) => e.type === "agent_failed")).pipe(
        Effect.provide(kernel(dir)),
        Effect.provide(capture)
      )
      expect(again).toHaveLength(1)
      expect(logged[2]).toBe("start-up 3/5 agents: no agent was cut off")
    }), 30_000)
})

describe("the supervisor's task runner", () => {
  it.live("runs a submitted task as an agent: completed with the model's answer", () =>
    withFake([{ text: "Logs summarised: all quiet." }], (fake) =>
      Effect.gen(function*() {
        const scheduler = yield* Scheduler
        expect(yield* scheduler.runner).toEqual({ name: "agent-supervisor", unavailable: undefined })
        const task = yield* scheduler.submit({ description: "Summarise the logs", goal: "Summarise the logs", constraints: ["be brief"], source: { kind: "api", id: null } }, user)
        for (let i = 0; i < 500; i++) {
          if ((yield* scheduler.get(task.id)).status === "Completed") break
          yield* Effect.sleep("10 millis")
        }
        expect(yield* scheduler.get(task.id)).toMatchObject({ status: "Completed", summary: "Logs summarised: all quiet." })
        expect(fake.requests[0].messages.at(-1).content).toBe("Summarise the logs\n\nConstraints:\n- be brief")
        const agent = (yield* allEvents).find((e) => e.type === "agent_created")!
        expect(agent.data).toMatchObject({ name: "Summarise the logs", task_id: task.id })
      })), 30_000)

  it.live("cancelling a task kills its agent; a stop leaves it to the restart, which fails it", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const slow = { text: "a b c d e f g h i j k l m n o p", delayMs: 300 }
      /** The agent of a task, once it runs. */
      const runningAgent = (taskId: string) =>
        Effect.gen(function*() {
          for (let i = 0; i < 500; i++) {
            const created = (yield* allEvents).find((e) => e.type === "agent_created" && e.data.task_id === taskId)
            if (created !== undefined && (yield* (yield* Agents).get(created.data.agent_id as string)).status === "Running") {
              return created.data.agent_id as string
            }
            yield* Effect.sleep("10 millis")
          }
          return yield* Effect.dieMessage("no agent started")
        })
      const cut = yield* withFake([slow, slow], (fake) =>
        Effect.gen(function*() {
          const scheduler = yield* Scheduler
          const first = yield* scheduler.submit({ description: "first", goal: "talk", source: { kind: "api", id: null } }, user)
          const killed = yield* runningAgent(first.id)
          yield* waitFor("the first request", () => fake.requests.length === 1)
          yield* scheduler.cancel(first.id, "changed my mind", user)
          yield* waitFor("the aborted request", () => fake.aborted() === 1)
          expect(yield* (yield* Agents).get(killed)).toMatchObject({ status: "Stopped", stop_reason: "killed" })
          const second = yield* scheduler.submit({ description: "second", goal: "talk", source: { kind: "api", id: null } }, user)
          const agent = yield* runningAgent(second.id)
          yield* waitFor("the second request", () => fake.requests.length === 2)
          return agent
        }), dir)
      const row = yield* Effect.flatMap(Agents, (agents) => agents.get(cut)).pipe(Effect.provide(kernel(dir)))
      expect(row).toMatchObject({ status: "Failed", error: "interrupted by a restart" })
    }), 30_000)

  it.live("with no model configured, tasks wait in the queue and the runner says how to configure one", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      expect(yield* scheduler.runner).toEqual({ name: "agent-supervisor", unavailable: NOT_CONFIGURED })
      const task = yield* scheduler.submit({ description: "later", goal: "later", source: { kind: "api", id: null } }, user)
      yield* Effect.sleep("100 millis")
      expect((yield* scheduler.get(task.id)).status).toBe("Queued")
    }).pipe(Effect.provide(kernel(tempDir()))), 30_000)
})
