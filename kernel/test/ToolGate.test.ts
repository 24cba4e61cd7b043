import { describe, expect, it } from "@effect/vitest"
import { Approvals, Budgets, Configuration, Kernel, Permissions, Rebuild, Tool, ToolGate, ToolGateApproval, ToolRegistry, Workspace } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect, Either, Fiber, Layer, Schema } from "effect"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const { needsApproval, blacklisted } = ToolGateApproval

const kernel = (dataDir: string) =>
  Kernel.layer({ store: { filename: join(dataDir, "annal.db"), synchronous: "NORMAL" }, dataDir, resourceSampleIntervalSecs: 60 })
type KernelServices = Layer.Layer.Success<ReturnType<typeof kernel>>
const withKernel = <A, E>(body: Effect.Effect<A, E, KernelServices>) => {
  const dir = mkdtempSync(join(tmpdir(), "annal-gate-"))
  return body.pipe(Effect.provide(kernel(dir)))
}
const user = { actor: "user:api" }
const agentCtx = { actor: "agent:builder" }
const AGENT = "builder"

let n = 0
const call = (name: string, args: unknown) => ({ id: `call_${++n}`, name, arguments: JSON.stringify(args) })

/** The log's events after `seq`, as [type, selected fields]. */
const eventsAfter = (seq: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const head = yield* store.head
    return yield* store.read(seq + 1, head.seq)
  })

const waitForPending = Effect.gen(function*() {
  const approvals = yield* Approvals
  for (let i = 0; i < 200; i++) {
    const pending = yield* approvals.list({ status: "pending" })
    if (pending.length > 0) return pending[0]!
    yield* Effect.sleep("20 millis")
  }
  return yield* Effect.dieMessage("no approval was requested")
})

describe("needsApproval", () => {
  const exec = (...argv: Array<string>) => ({ tool: "exec", args: { argv }, consequential: true })

  it.each([
    ["rm", "-rf", "/"],
    ["rm", "-fr", "/"],
    ["rm", "-rf", "/*"],
    ["rm", "-r", "-f", "/"],
    ["rm", "--recursive", "--force", "/"],
    ["rm", "-Rf", "~"],
    ["rm", "-rf", "--no-preserve-root", "x"],
    ["rm", "-rf", "../.."],
    ["rm", "-rf", "."],
    ["/bin/rm", "-rf", "/home"],
    ["sudo", "ls"],
    ["/usr/bin/sudo", "-u", "root", "id"],
    ["doas", "id"],
    ["env", "FOO=1", "sudo", "id"],
    ["timeout", "5", "sudo", "id"],
    ["nice", "-n", "10", "rm", "-rf", "/"],
    ["mkfs", "/dev/sda1"],
    ["mkfs.ext4", "/dev/sda1"],
    ["bash", "-c", ":(){ :|:& };:"],
    ["sh", "-c", "bomb(){ bomb | bomb & }; bomb"],
    ["dd", "if=/dev/zero", "of=/dev/sda"],
    ["dd", "if=x.img", "of=/dev/nvme0n1", "bs=4M"],
    ["git", "push", "--force"],
    ["git", "push", "-f", "origin", "main"],
    ["git", "push", "origin", "main", "--force-with-lease"],
    ["git", "push", "--force-with-lease=main:abc", "origin"],
    ["git", "push", "origin", "+main"],
    ["git", "-C", "repo", "push", "-uf", "origin", "main"],
    ["chmod", "-R", "777", "/"],
    ["chmod", "777", "/"],
    ["chown", "-R", "me", "/etc"],
    ["bash", "-c", "echo hi && sudo reboot"],
    ["sh", "-c", "ls; rm -rf /"],
    ["python3", "-c", "x", "$(sudo id)"],
    ["sh", "-c", "cat x > /dev/sda"]
  ])("always asks for %s %s %s", (...argv: Array<string>) => {
    expect(blacklisted(argv)).toBeDefined()
    for (const policy of ["auto", "on_demand", "always"] as const) {
      expect(needsApproval(exec(...argv), policy)).toMatchObject({ ask: true, blacklisted: true })
    }
  })

  it.each([
    ["rm", "-rf", "build"],
    ["rm", "-f", "/tmp/x"],
    ["echo", "rm -rf"],
    ["echo", "sudo"],
    ["git", "push", "origin", "main"],
    ["git", "push", "--follow-tags"],
    ["git", "commit", "-m", "fix"],
    ["dd", "if=/dev/zero", "of=/dev/null", "count=1"],
    ["dd", "if=/dev/zero", "of=disk.img", "count=1"],
    ["chmod", "-R", "755", "scripts"],
    ["chmod", "+x", "run.sh"],
    ["ls", "-la", "/"],
    ["node", "-e", "console.log(1)"]
  ])("does not blacklist %s %s %s", (...argv: Array<string>) => {
    expect(blacklisted(argv)).toBeUndefined()
    expect(needsApproval(exec(...argv), "auto")).toEqual({ ask: false })
  })

  it("follows the policy otherwise", () => {
    const write = { tool: "write", args: { path: "a", content: "rm -rf /" }, consequential: true }
    const read = { tool: "read", args: { path: "a" }, consequential: false }
    expect(needsApproval(write, "auto")).toEqual({ ask: false })
    expect(needsApproval(write, "on_demand")).toMatchObject({ ask: true, blacklisted: false })
    expect(needsApproval(read, "on_demand")).toEqual({ ask: false })
    expect(needsApproval(read, "always")).toMatchObject({ ask: true, blacklisted: false })
    // the blacklist is about commands run, not file contents
    expect(needsApproval(write, "auto").ask).toBe(false)
  })
})

describe("the tool gate", () => {
  it.live("runs an allowed call: requested, access decided, started, completed, with the output whole, its size and sha256", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      yield* (yield* Permissions).ensureDefaults(AGENT, user)
      yield* (yield* Workspace).write("hello.txt", new TextEncoder().encode("hi there\n"), user)
      const from = (yield* (yield* EventStore).head).seq
      const result = yield* gate.call(AGENT, call("read", { path: "hello.txt" }), agentCtx)
      expect(result).toMatchObject({ status: "completed", is_error: false, content: "hi there\n", tool: "read" })
      const events = yield* eventsAfter(from)
      expect(events.map((e) => e.type)).toEqual(["tool_call_requested", "access_decided", "tool_call_started", "tool_call_completed"])
      expect(events.every((e) => e.actor === "agent:builder")).toBe(true)
      expect(events[1]!.data).toMatchObject({ subject: AGENT, action: "use_tool:read", resource: "hello.txt", allowed: true })
      expect(events[2]!.data).toMatchObject({ id: result.id, budget: "unlimited", approval_id: null, timeout_secs: 60 })
      expect(events[3]!.data).toMatchObject({
        id: result.id,
        status: "completed",
        output_bytes: 9,
        sha256: createHash("sha256").update("hi there\n").digest("hex"),
        exit_code: null,
        output: "hi there\n"
      })
      // the output is on the record only in the completion (what the model was given)
      expect(events.filter((e) => JSON.stringify(e.data).includes("hi there")).map((e) => e.type)).toEqual(["tool_call_completed"])
    })), 30_000)

  it.live("a permission denial is recorded and returned as a tool error", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      const store = yield* EventStore
      // no permissions at all
      const none = yield* gate.call("stranger", call("read", { path: "a.txt" }), agentCtx)
      expect(none).toMatchObject({ status: "denied", stage: "permission", is_error: true, content: 'permission denied: agent "stranger" has no permissions' })
      yield* (yield* Permissions).ensureDefaults(AGENT, user)
      const from = (yield* store.head).seq
      const exec = yield* gate.call(AGENT, call("exec", { argv: ["echo", "x"] }), agentCtx)
      expect(exec).toMatchObject({ status: "denied", stage: "permission", content: 'permission denied: tool "exec" is not in allowed_tools' })
      const secret = yield* gate.call(AGENT, call("read", { path: "config/.env" }), agentCtx)
      expect(secret).toMatchObject({ status: "denied", stage: "permission", content: expect.stringContaining("denied pattern") })
      const escape = yield* gate.call(AGENT, call("write", { path: "../x", content: "x" }), agentCtx)
      expect(escape).toMatchObject({ status: "denied", stage: "permission", content: expect.stringContaining("outside the workspace") })
      const events = yield* eventsAfter(from)
      expect(events.map((e) => e.type)).toEqual([
        "tool_call_requested", "access_decided", "tool_call_denied",
        "tool_call_requested", "access_decided", "tool_call_denied",
        "tool_call_requested", "access_decided", "tool_call_denied"
      ])
      expect(events[1]!.data).toMatchObject({ allowed: false, action: "use_tool:exec" })
      expect(events[2]!.data).toMatchObject({ status: "denied", stage: "permission", tool: "exec", id: exec.id })
    })), 30_000)

  it.live("bad arguments are denied naming the field", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      yield* (yield* Permissions).ensureDefaults(AGENT, user)
      expect(yield* gate.call(AGENT, call("write", { path: "a.txt" }), agentCtx)).toMatchObject({
        status: "denied", stage: "arguments", content: expect.stringContaining('"content"')
      })
      expect(yield* gate.call(AGENT, { id: "c", name: "read", arguments: "{not json" }, agentCtx)).toMatchObject({
        status: "denied", stage: "arguments", content: expect.stringContaining("not valid JSON")
      })
      expect(yield* gate.call(AGENT, call("teleport", {}), agentCtx)).toMatchObject({ status: "denied", stage: "arguments", content: 'unknown tool "teleport"' })
    })), 30_000)

  it.live("budget exhaustion fails closed; real token usage is charged", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      const budgets = yield* Budgets
      yield* (yield* Permissions).ensureDefaults(AGENT, user)
      yield* budgets.set(AGENT, { token_budget: 1000, calls_budget: 2, window_secs: 3600 }, user)
      expect(yield* gate.call(AGENT, call("ls", {}), agentCtx)).toMatchObject({ status: "completed" })
      expect(yield* gate.call(AGENT, call("ls", {}), agentCtx)).toMatchObject({ status: "completed" })
      const from = (yield* (yield* EventStore).head).seq
      const third = yield* gate.call(AGENT, call("ls", {}), agentCtx)
      expect(third).toMatchObject({ status: "denied", stage: "budget", content: expect.stringContaining("budget exhausted") })
      expect((yield* eventsAfter(from)).map((e) => e.type)).toEqual(["tool_call_requested", "access_decided", "tool_call_denied"])
      yield* gate.chargeUsage(AGENT, { prompt_tokens: 300, completion_tokens: 200 }, agentCtx)
      expect((yield* budgets.get(AGENT)).tokens_remaining).toBe(500)
      const first = (yield* eventsAfter(0)).find((e) => e.type === "tool_call_started")!
      expect(first.data).toMatchObject({ budget: "reserved" })
    })), 30_000)

  it.live("approval: on_demand asks; approved runs, rejected and expired are denied", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      const approvals = yield* Approvals
      const workspace = yield* Workspace
      yield* (yield* Permissions).ensureDefaults(AGENT, user)

      const from = (yield* (yield* EventStore).head).seq
      const approved = yield* Effect.fork(gate.call(AGENT, call("write", { path: "ok.txt", content: "yes" }), agentCtx))
      const first = yield* waitForPending
      expect(first).toMatchObject({ subject: AGENT, action: "use_tool:write", resource: "ok.txt" })
      yield* approvals.approve(first.id, user)
      expect(yield* Fiber.join(approved)).toMatchObject({ status: "completed", content: "wrote 3 bytes to ok.txt" })
      expect(readFileSync(join(workspace.root, "ok.txt"), "utf8")).toBe("yes")
      const events = yield* eventsAfter(from)
      expect(events.map((e) => e.type)).toEqual([
        "tool_call_requested", "access_decided", "approval_requested", "approval_resolved",
        "tool_call_started", "workspace_file_written", "tool_call_completed"
      ])
      expect(events[4]!.data).toMatchObject({ approval_id: first.id })

      const rejected = yield* Effect.fork(gate.call(AGENT, call("write", { path: "no.txt", content: "no" }), agentCtx))
      const second = yield* waitForPending
      yield* approvals.reject(second.id, user)
      expect(yield* Fiber.join(rejected)).toMatchObject({ status: "denied", stage: "approval", content: expect.stringContaining("rejected") })
      expect(existsSync(join(workspace.root, "no.txt"))).toBe(false)

      yield* (yield* Configuration).update({ approvals: { timeout_secs: 1 } }, user)
      const started = Date.now()
      const expired = yield* gate.call(AGENT, call("edit", { path: "ok.txt", old_string: "yes", new_string: "no" }), agentCtx)
      expect(expired).toMatchObject({ status: "denied", stage: "approval", content: expect.stringContaining("expired") })
      expect(Date.now() - started).toBeLessThan(5000)
      expect(readFileSync(join(workspace.root, "ok.txt"), "utf8")).toBe("yes")
      const last = (yield* eventsAfter(from)).filter((e) => e.type === "tool_call_denied")
      expect(last.map((e) => e.data.approval_id)).toEqual([second.id, expect.any(String)])
    })), 30_000)

  it.live("the blacklist asks even under policy auto; a plain command under auto runs without asking", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      const approvals = yield* Approvals
      yield* (yield* Permissions).update(AGENT, { allowed_tools: ["exec"] }, user)
      yield* (yield* Configuration).update({ tools: { policies: { exec: "auto" }, exec_allowlist: ["echo", "rm"] } }, user)
      expect(yield* gate.call(AGENT, call("exec", { argv: ["echo", "fine"] }), agentCtx)).toMatchObject({ status: "completed", exit_code: 0 })
      expect(yield* approvals.list({})).toEqual([])

      const fiber = yield* Effect.fork(gate.call(AGENT, call("exec", { argv: ["rm", "-rf", "/"] }), agentCtx))
      const pending = yield* waitForPending
      expect(pending).toMatchObject({ action: "use_tool:exec", resource: "rm -rf /", reason: expect.stringContaining("blacklisted") })
      yield* approvals.reject(pending.id, user)
      expect(yield* Fiber.join(fiber)).toMatchObject({ status: "denied", stage: "approval" })
    })), 30_000)

  it.live("execution is limited by the agent's max_execution_time_secs: the call fails and the process is gone", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      const workspace = yield* Workspace
      yield* (yield* Permissions).update(AGENT, { allowed_tools: ["exec"], max_execution_time_secs: 1 }, user)
      yield* (yield* Configuration).update({ tools: { policies: { exec: "auto" } } }, user)
      const from = (yield* (yield* EventStore).head).seq
      const result = yield* gate.call(AGENT, call("exec", { argv: ["node", "-e", "require('fs').writeFileSync('pid', String(process.pid)); setInterval(() => {}, 1000)"] }), agentCtx)
      expect(result).toMatchObject({ status: "failed", is_error: true, content: "node was killed after the 1 s time limit" })
      const events = yield* eventsAfter(from)
      expect(events.map((e) => e.type)).toEqual(["tool_call_requested", "access_decided", "tool_call_started", "tool_call_failed"])
      expect(events[2]!.data).toMatchObject({ timeout_secs: 1 })
      expect(events[3]!.data).toMatchObject({ status: "failed", timed_out: true })
      const pid = Number(readFileSync(join(workspace.root, "pid"), "utf8"))
      expect(() => process.kill(pid, 0)).toThrow()
    })), 30_000)

  it.live("a call runs only once its requested, access and started events are committed", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      const store = yield* EventStore
      yield* (yield* Permissions).update(AGENT, { allowed_tools: ["peek"] }, user)
      const from = (yield* store.head).seq
      // what the log holds after `from` at the moment the tool runs
      let seen: ReadonlyArray<string> = []
      yield* (yield* ToolRegistry).register(Either.getOrThrow(Tool.make({
        name: "peek",
        description: "reads the log while it runs",
        args: Schema.Struct({}),
        access: () => ({ paths: [] }),
        run: () =>
          Effect.gen(function*() {
            const head = yield* store.head
            seen = (yield* Effect.orDie(store.read(from + 1, head.seq))).map((e) => e.type)
            return { text: "ok" }
          })
      })))
      const result = yield* gate.call(AGENT, call("peek", {}), agentCtx)
      expect(result).toMatchObject({ status: "completed", content: "ok" })
      expect(seen).toEqual(["tool_call_requested", "access_decided", "tool_call_started"])
    })), 30_000)

  it.live("after a run of calls, rebuilding the views gives the same tables", () =>
    withKernel(Effect.gen(function*() {
      const gate = yield* ToolGate
      yield* (yield* Permissions).ensureDefaults(AGENT, user)
      yield* (yield* Configuration).update({ tools: { policies: { write: "auto" } } }, user)
      yield* gate.call(AGENT, call("write", { path: "a.txt", content: "a" }), agentCtx)
      yield* gate.call(AGENT, call("read", { path: "a.txt" }), agentCtx)
      yield* gate.call(AGENT, call("read", { path: "missing" }), agentCtx)
      yield* gate.call(AGENT, call("exec", { argv: ["echo"] }), agentCtx)
      yield* gate.call(AGENT, call("write", {}), agentCtx)
      const report = yield* Rebuild.rebuild(Kernel.projections)
      expect(report.tables.filter((t) => !t.equal)).toEqual([])
      const calls = report.tables.find((t) => t.table === "tool_calls")!
      expect(calls.live.rows).toBe(5)
      const store = yield* EventStore
      const statuses = yield* store.withViews((db) => db.all("SELECT status, stage FROM tool_calls ORDER BY seq"))
      expect(statuses).toEqual([
        { status: "completed", stage: null },
        { status: "completed", stage: null },
        { status: "failed", stage: null },
        { status: "denied", stage: "permission" },
        { status: "denied", stage: "arguments" }
      ])
    })), 30_000)
})
