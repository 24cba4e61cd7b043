/**
 * Replaying a recorded chat run: the run goes through the orchestrator, its agents and the gate
 * again — every model answer and every tool result taken from the record, no model asked and no
 * tool run — in a scratch kernel (a temporary data directory whose log is seeded with the live
 * log up to the run's `chat_run_started`, before the kernel starts on it, so every view and
 * every service's state are as the run found them), and what it
 * produces is compared with what the record holds (`compare.ts`). Nothing is written to the
 * live log; the scratch directory is removed afterwards.
 *
 * - The model (`replayingModel`) answers a request with the next recorded `model_answered` (or
 *   fails it as the recorded `model_failed`) whose `request_sha256` is the request's: a request
 *   the record does not have fails, and the run's events then differ from the record's.
 * - The gate's execution (`replayingTools`) gives a call the outcome recorded for the same tool,
 *   call id and arguments: `tool_call_completed`'s `output`, or `tool_call_failed`'s reason; the
 *   events the tool appended of its own are appended again as recorded.
 * - The tools (`offers.ts`): each agent is offered what the recorded agent was offered; a tool
 *   the scratch kernel does not have (a program's, an MCP server's) is registered as the record
 *   shows it — its spec, and what the gate read of each of its calls.
 * - The evaluation's look for the files its criteria name (`WorkspaceCheck`) answers what the
 *   run's `workspace_checked` recorded; the programs whose skills an agent is briefed with
 *   (`SkillOffer`), what its `skills_offered` recorded.
 * - A person's decision on an approval is taken from the record: each approval the replay asks
 *   for is resolved as the run's approval at the same place was, by the same actor.
 */
import { ApprovalResolution } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator, type StoredEvent } from "@annal/store"
import { Data, Effect, Either, Fiber, Layer, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Approvals } from "../approvals/Approvals.js"
import { APPROVAL_REQUESTED, APPROVAL_RESOLVED, ApprovalResolved, approvalStream } from "../approvals/events.js"
import { ToolExecution } from "../gate/ToolExecution.js"
import { TOOL_CALL_COMPLETED, TOOL_CALL_FAILED, TOOL_CALL_REQUESTED, TOOL_CALL_STARTED, ToolCallCompleted, ToolCallFailed, ToolCallRequested, toolCallStream } from "../gate/events.js"
import * as Kernel from "../Kernel.js"
import { MODEL_ANSWERED, MODEL_FAILED, ModelAnswered, ModelFailed, requestDigest } from "../llm/events.js"
import { LanguageModel, type ModelChunk, ModelError, ModelUnavailable } from "../llm/LanguageModel.js"
import { Orchestrator } from "../orchestrator/Orchestrator.js"
import {
  CHAT_RUN_COMPLETED,
  CHAT_RUN_FAILED,
  CHAT_RUN_RESUMED,
  CHAT_RUN_STARTED,
  ChatRunStarted,
  chatRunStream,
  SKILLS_OFFERED,
  SkillsOffered,
  WORKSPACE_CHECKED,
  WorkspaceChecked
} from "../orchestrator/events.js"
import { SkillOffer } from "../orchestrator/SkillOffer.js"
import { WorkspaceCheck } from "../orchestrator/WorkspaceCheck.js"
import { offeredSkillOf, Programs } from "../programs/Programs.js"
import { type Comparison, compareRuns } from "./compare.js"
import { registerRecordedTools, replayingOffer } from "./offers.js"
import { ToolFailed, type ToolOutput } from "../tools/Tool.js"

/** The run cannot be replayed (unknown, not ended, resumed after a restart); the message says why. */
export class RunNotReplayable extends Data.TaggedError("RunNotReplayable")<{ readonly message: string; readonly notFound?: boolean }> {}

/** A replay's answer: the comparison, and what the replay asked that the record has no answer to. */
export type ReplayResult = Comparison & {
  readonly run_id: string
  /** Model requests and tool calls the record has no answer to, in the order they came. */
  readonly unanswered: ReadonlyArray<string>
}

export interface ReplayOptions {
  /** Where the scratch data directory is made (default: the system's temporary directory). */
  readonly scratchParent?: string | undefined
  /** How long the replayed run may take before it is cut off and compared as far as it went (default 120 s). */
  readonly timeoutSecs?: number | undefined
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")

const decode = <A, I>(schema: Schema.Schema<A, I>, event: StoredEvent) => Schema.decodeUnknownSync(schema)(event.data)

/** Takes the next recorded answer of each key, in record order. */
const queues = <A>(entries: ReadonlyArray<readonly [string, A]>) => {
  const byKey = new Map<string, Array<A>>()
  for (const [key, value] of entries) {
    const list = byKey.get(key)
    if (list === undefined) byKey.set(key, [value])
    else list.push(value)
  }
  return (key: string): A | undefined => byKey.get(key)?.shift()
}

/** The model of a replay: every answer from the record, by the request's digest. */
const replayingModel = (recorded: ReadonlyArray<StoredEvent>, unanswered: Array<string>): LanguageModel["Type"] => {
  const next = queues(recorded.filter((e) => e.type === MODEL_ANSWERED || e.type === MODEL_FAILED).map((e) => {
    const answer = e.type === MODEL_ANSWERED ? decode(ModelAnswered, e) : decode(ModelFailed, e)
    return [answer.request_sha256, answer] as const
  }))
  return {
    info: { provider: "openai", model: "replay" },
    stream: (request) =>
      Stream.suspend(() => {
        const digest = requestDigest(request)
        const answer = next(digest)
        if (answer === undefined) {
          const why = `the model was asked something the record has no answer to (request sha256 ${digest})`
          unanswered.push(why)
          return Stream.fail(new ModelError({ message: why }))
        }
        if ("error" in answer) return Stream.fail(answer.unavailable ? new ModelUnavailable({ message: answer.error }) : new ModelError({ message: answer.error }))
        const chunks: Array<ModelChunk> = [
          ...(answer.text === "" ? [] : [{ _tag: "Token", text: answer.text } as const]),
          ...answer.tool_calls.map((call) => ({ _tag: "ToolCall", call } as const)),
          { _tag: "Usage", usage: { prompt_tokens: answer.prompt_tokens, completion_tokens: answer.completion_tokens } },
          { _tag: "Done", finishReason: answer.finish_reason }
        ]
        return Stream.fromIterable(chunks)
      })
  }
}

/** The evaluation's look at the workspace in a replay: what the run's `workspace_checked` recorded, in order. */
const replayingCheck = (recorded: ReadonlyArray<StoredEvent>, unanswered: Array<string>) => {
  const checks = recorded.filter((e) => e.type === WORKSPACE_CHECKED).map((e) => decode(WorkspaceChecked, e))
  return Layer.succeed(WorkspaceCheck, {
    missing: (_runId, paths) =>
      Effect.sync(() => {
        const check = checks.shift()
        if (check !== undefined && check.paths.join("\n") === paths.join("\n")) return check.missing
        unanswered.push(`the evaluation looked for ${paths.join(", ")} where the record has ${check === undefined ? "no look at the workspace" : `a look for ${check.paths.join(", ")}`}`)
        return paths
      })
  })
}

/** The skills an agent is briefed with in a replay: the programs the run's `skills_offered` of that generation names, as the programs view has them. */
const replayingSkills = (recorded: ReadonlyArray<StoredEvent>, unanswered: Array<string>) => {
  const offered = recorded.filter((e) => e.type === SKILLS_OFFERED).map((e) => decode(SkillsOffered, e))
  return Layer.effect(
    SkillOffer,
    Effect.map(Programs, (programs) =>
      SkillOffer.of({
        skillsFor: (_runId, generation) =>
          Effect.suspend(() => {
            const index = offered.findIndex((o) => o.generation === generation)
            const names = index === -1 ? [] : offered.splice(index, 1)[0]!.programs
            return Effect.map(
              Effect.forEach(names, (name) =>
                programs.get(name).pipe(
                  Effect.map((p) => (p.skill === null ? [] : [offeredSkillOf(p, p.skill)])),
                  Effect.orElse(() => Effect.sync(() => (unanswered.push(`the record offered the skill of program ${name}, which the log does not have`), [])))
                )),
              (skills) => skills.flat()
            )
          })
      }))
  )
}

/** A call's recorded outcome, and the events the tool appended of its own while it ran. */
interface RecordedCall {
  readonly agentId: string
  readonly outcome: Either.Either<ToolOutput, ToolFailed>
  readonly effects: ReadonlyArray<StoredEvent>
}

/** The events a call's tool appended itself: its agent's, between its start and its end, outside the gate's and permissions' streams. */
const effectsOf = (recorded: ReadonlyArray<StoredEvent>, agentId: string, started: number, ended: number) =>
  recorded.filter((e) => e.seq > started && e.seq < ended && e.actor === `agent:${agentId}` && !e.stream.startsWith("tool-call-") && !e.stream.startsWith("access-"))

/** `value` with every occurrence of `from` replaced by `to`, in strings at any depth. */
const renamed = <A>(value: A, from: string, to: string): A => JSON.parse(JSON.stringify(value).split(from).join(to)) as A

/**
 * The gate's execution in a replay: each call's outcome from the record, by tool, call id and
 * arguments; the events its tool appended of its own (a memory stored, a file's write recorded)
 * are appended again as recorded, under the replay's agent, so what follows sees them.
 */
const replayingTools = (source: EventStore["Type"], recorded: ReadonlyArray<StoredEvent>, unanswered: Array<string>) =>
  Effect.gen(function*() {
    const entries: Array<readonly [string, RecordedCall]> = []
    for (const e of recorded.filter((e) => e.type === TOOL_CALL_REQUESTED)) {
      const requested = decode(ToolCallRequested, e)
      const stream = yield* source.readStream(toolCallStream(requested.id))
      const started = stream.find((s) => s.type === TOOL_CALL_STARTED)
      const end = stream.find((s) => s.type === TOOL_CALL_COMPLETED || s.type === TOOL_CALL_FAILED)
      if (started === undefined || end === undefined) continue
      const key = `${requested.tool}\n${requested.call_id}\n${requested.arguments_sha256}`
      const effects = effectsOf(recorded, requested.agent_id, started.seq, end.seq)
      if (end.type === TOOL_CALL_FAILED) {
        const failed = decode(ToolCallFailed, end)
        entries.push([key, { agentId: requested.agent_id, effects, outcome: Either.left(new ToolFailed({ message: failed.reason, timedOut: failed.timed_out })) }])
        continue
      }
      const completed = decode(ToolCallCompleted, end)
      entries.push([key, {
        agentId: requested.agent_id,
        effects,
        outcome: completed.output === undefined
          ? Either.left(new ToolFailed({ message: "the record has only the output's size and sha256 (written before outputs were recorded)" }))
          : Either.right({ text: completed.output, ...(completed.exit_code === null ? {} : { exitCode: completed.exit_code }) })
      }])
    }
    const next = queues(entries)
    return Layer.effect(
      ToolExecution,
      Effect.map(EventStore, (scratch) =>
        ToolExecution.of({
          execute: (agentId, call) =>
            Effect.suspend(() => {
              const found = next(`${call.name}\n${call.id}\n${sha256(call.arguments)}`)
              if (found === undefined) {
                const why = `tool ${call.name} was called (call ${call.id}) with arguments the record has no result for`
                unanswered.push(why)
                return Effect.fail(new ToolFailed({ message: why }))
              }
              const again = Effect.forEach(found.effects, (e) =>
                scratch.append(renamed({ stream: e.stream, expectedVersion: "any" as const, events: [{ type: e.type, data: e.data }], actor: e.actor, meta: e.meta }, found.agentId, agentId)))
              return Effect.zipRight(Effect.orDie(again), found.outcome)
            })
        }))
    )
  })

interface Resolution {
  readonly resolution: ApprovalResolution
  readonly actor: string
  readonly meta: StoredEvent["meta"]
}

/** The recorded decisions on the run's approvals, in the order they were asked for. */
const recordedResolutions = (source: EventStore["Type"], recorded: ReadonlyArray<StoredEvent>) =>
  Effect.forEach(recorded.filter((e) => e.type === APPROVAL_REQUESTED), (e) =>
    Effect.map(source.readStream(approvalStream(String(e.data.id))), (stream): Resolution | undefined => {
      const resolved = stream.find((s) => s.type === APPROVAL_RESOLVED)
      return resolved === undefined ? undefined : { resolution: decode(ApprovalResolved, resolved).resolution, actor: resolved.actor, meta: resolved.meta }
    }))

/** Resolves each approval the replay asks for after `after` as the record's at the same place was. */
const decideAsRecorded = (scratch: EventStore["Type"], resolutions: Array<Resolution | undefined>, after: number) =>
  Effect.gen(function*() {
    const approvals = yield* Approvals
    return yield* scratch.tail(after).pipe(
      Stream.filter((e) => e.type === APPROVAL_REQUESTED),
      Stream.runForEach((e) => {
        const recorded = resolutions.shift()
        const id = String(e.data.id)
        const context = { actor: recorded?.actor ?? "system", ...(recorded === undefined ? {} : { meta: recorded.meta }) }
        // an expired approval expires again on the gate's clock; an unresolved one stays pending
        if (recorded?.resolution === "approved") return Effect.ignore(approvals.approve(id, context))
        if (recorded?.resolution === "rejected") return Effect.ignore(approvals.reject(id, context))
        return Effect.void
      }),
      Effect.ignore
    )
  })

/** The run's recorded events: from its `chat_run_started` to its end, those of its session. */
const recordedRun = (source: EventStore["Type"], runId: string) =>
  Effect.gen(function*() {
    const own = yield* source.readStream(chatRunStream(runId))
    const first = own[0]
    if (first === undefined || first.type !== CHAT_RUN_STARTED) return yield* new RunNotReplayable({ message: `no chat run ${runId} on the record`, notFound: true })
    if (own.some((e) => e.type === CHAT_RUN_RESUMED)) {
      return yield* new RunNotReplayable({ message: `chat run ${runId} was cut off by a restart and resumed: only a run that went from start to end in one process replays` })
    }
    const end = own.find((e) => e.type === CHAT_RUN_COMPLETED || e.type === CHAT_RUN_FAILED)
    if (end === undefined) return yield* new RunNotReplayable({ message: `chat run ${runId} has not ended` })
    const started = decode(ChatRunStarted, first)
    const events = (yield* source.read(first.seq, end.seq)).filter((e) => e.meta.session_id === started.session_id)
    return { first, started, events }
  })

/** Seeds the scratch log with the source's events 1…`upTo` (each its own append, in order). */
const seed = (source: EventStore["Type"], scratch: EventStore["Type"], upTo: number) =>
  Effect.gen(function*() {
    let last: Effect.Effect<unknown, unknown> = Effect.void
    yield* source.readAll(0, 5000).pipe(
      Stream.takeWhile((e) => e.seq <= upTo),
      Stream.runForEach((e) =>
        Effect.map(
          scratch.enqueue({ stream: e.stream, expectedVersion: "any", events: [{ type: e.type, data: e.data }], actor: e.actor, meta: e.meta }),
          (wait) => {
            last = wait
          }
        )
      )
    )
    yield* Effect.orDie(last)
  })

/**
 * Replays chat run `runId` of the store in context (read only) in a scratch kernel and compares
 * its events with the record's.
 */
export const replayRun = (runId: string, options: ReplayOptions = {}): Effect.Effect<ReplayResult, RunNotReplayable | EventStoreError, EventStore> =>
  Effect.gen(function*() {
    const source = yield* EventStore
    const run = yield* recordedRun(source, runId)
    const unanswered: Array<string> = []
    const tools = yield* replayingTools(source, run.events, unanswered)
    const resolutions = yield* recordedResolutions(source, run.events)
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(options.scratchParent ?? tmpdir(), "annal-replay-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const store = { filename: join(dir, "annal.db"), synchronous: "OFF" as const }
    // the log up to the run, before any service starts: each loads its state from it
    yield* Effect.flatMap(EventStore, (scratch) => seed(source, scratch, run.first.seq - 1)).pipe(Effect.provide(Kernel.storeLayer(store)))
    // the ids the replay makes: the comparison pairs these, and only these, with the record's
    const made = new Set<string>()
    const base = IdGenerator.make()
    const ids = Layer.succeed(IdGenerator, {
      next: Effect.tap(base.next, (id) => Effect.sync(() => made.add(id))),
      unsafeNext: base.unsafeNext
    })
    const scratchKernel = Kernel.layer({
      store,
      ids,
      dataDir: dir,
      languageModel: Layer.succeed(LanguageModel, replayingModel(run.events, unanswered)),
      toolExecution: tools,
      toolOffer: replayingOffer(run.events),
      workspaceCheck: replayingCheck(run.events, unanswered),
      skillOffer: replayingSkills(run.events, unanswered),
      viewSnapshotEvery: 0,
      resourceSampleIntervalSecs: 3600
    })
    const replayed = yield* Effect.gen(function*() {
      const scratch = yield* EventStore
      const seeded = (yield* scratch.head).seq
      yield* registerRecordedTools(source, run.events, unanswered)
      const approver = yield* Effect.fork(decideAsRecorded(scratch, resolutions, seeded))
      // a failed run is events too: they are compared like any
      yield* (yield* Orchestrator).rerun(run.started, { actor: run.first.actor, meta: run.first.meta }).pipe(
        Effect.timeout(`${options.timeoutSecs ?? 120} seconds`),
        Effect.either
      )
      yield* Fiber.interrupt(approver)
      yield* scratch.settled
      const events = yield* scratch.read(seeded + 1, (yield* scratch.head).seq)
      return events.filter((e) => e.meta.session_id === run.started.session_id)
    }).pipe(Effect.provide(scratchKernel), Effect.mapError((e) => (e._tag === "EventStoreError" ? e : new RunNotReplayable({ message: `the scratch kernel could not run: ${e.message}` }))))
    return { run_id: runId, ...compareRuns(run.events, replayed, made), unanswered }
  }).pipe(Effect.scoped)
