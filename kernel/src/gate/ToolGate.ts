/**
 * The gate every tool call passes, in order, each step on the record:
 *   0. `tool_call_requested`; the arguments are decoded with the tool's Schema (a bad argument
 *      is denied at stage `arguments`, naming the field);
 *   1. permission: `Permissions.check` for the tool and each path it touches (`access_decided`);
 *   2. budget: one call reserved (`budget_reserved`); exhausted fails closed; an agent without a
 *      budget is unlimited;
 *   3. approval: the tool's policy and the blacklist (`approval_requested`, `approval_resolved`);
 *      rejected or expired is a denial;
 *   4. execution under the smaller of the agent's and the tool's time limit
 *      (`tool_call_started`, then `tool_call_completed` with the output the model gets, whole,
 *      or `tool_call_failed` with the error it gets).
 * A refusal at any step is `tool_call_denied` with the stage, and goes back to the model as a
 * tool error: the gate fails only when the log itself cannot be written. Each step's event is
 * committed before the next step (the one commit rule); the call runs, and a person is asked,
 * only after `beforeEgress`.
 */
import { SqlClient } from "@effect/sql"
import { EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import { Clock, Context, Effect, Either, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import { Approvals } from "../approvals/Approvals.js"
import { Budgets } from "../budgets/Budgets.js"
import { Configuration } from "../config/Configuration.js"
import type { TokenUsage } from "../llm/LanguageModel.js"
import { decideAccess } from "../permissions/decide.js"
import { Permissions } from "../permissions/Permissions.js"
import { type CommandContext, commandsOf } from "../shared/Command.js"
import { beforeEgress } from "../shared/Egress.js"
import type { ConcurrentChange, InvalidCommand } from "../shared/errors.js"
import { capText } from "../tools/builtins.js"
import { ToolFailed, type ToolOutput } from "../tools/Tool.js"
import { ToolRegistry } from "../tools/ToolRegistry.js"
import {
  type GateStage,
  TOOL_CALL_COMPLETED,
  TOOL_CALL_DENIED,
  TOOL_CALL_FAILED,
  TOOL_CALL_REQUESTED,
  TOOL_CALL_STARTED,
  type ToolCallCompleted,
  type ToolCallDenied,
  type ToolCallFailed,
  type ToolCallRequested,
  type ToolCallStarted,
  toolCallStream
} from "./events.js"
import { needsApproval } from "./needsApproval.js"
import { ToolExecution } from "./ToolExecution.js"

/** A tool call as the model made it: its id, the tool's name, the arguments as JSON text. */
export interface ToolCallRequest {
  readonly id: string
  readonly name: string
  readonly arguments: string
}

/** What goes back to the model: the output, or the error when `is_error`. */
export interface ToolCallResult {
  /** The gate's id of the call (its stream is `tool-call-<id>`). */
  readonly id: string
  readonly call_id: string
  readonly tool: string
  readonly status: "completed" | "failed" | "denied"
  readonly is_error: boolean
  readonly content: string
  readonly stage?: GateStage | undefined
  readonly exit_code?: number | undefined
}

/** Token usage as the model reported it, and the tokens reserved for the call beforehand. */
export interface ChargedUsage extends TokenUsage {
  readonly reserved_tokens?: number | undefined
}

/** Extra time the gate allows past a tool's own deadline before it interrupts the tool. */
const GRACE_MS = 1000

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")

export class ToolGate extends Context.Tag("@annal/kernel/ToolGate")<
  ToolGate,
  {
    /** Passes one tool call through the gate and runs it; refusals are results, not failures. */
    readonly call: (
      agentId: string,
      toolCall: ToolCallRequest,
      context: CommandContext
    ) => Effect.Effect<ToolCallResult, InvalidCommand | ConcurrentChange | EventStoreError>
    /** Charges a model call's real token usage to the agent's budget (nothing without a budget). */
    readonly chargeUsage: (agentId: string, usage: ChargedUsage, context: CommandContext) => Effect.Effect<void, InvalidCommand | ConcurrentChange | EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    ToolGate,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const store = yield* EventStore
      const registry = yield* ToolRegistry
      const permissions = yield* Permissions
      const budgets = yield* Budgets
      const approvals = yield* Approvals
      const config = yield* Configuration
      const execution = yield* ToolExecution

      const { appendDecided } = commandsOf(store, yield* SqlClient.SqlClient)

      const call = (agentId: string, toolCall: ToolCallRequest, context: CommandContext) =>
        Effect.gen(function*() {
          const id = yield* ids.next
          // the call's own stream: only this fiber writes to it
          let version = 0
          const append = <A extends object>(type: string, data: A) =>
            Effect.suspend(() => appendDecided(toolCallStream(id), version++, [{ type, data: data as unknown as Record<string, unknown> }], context))
          const base = { id, call_id: toolCall.id, tool: toolCall.name }
          const deny = (stage: GateStage, reason: string, approvalId: string | null = null) =>
            append<ToolCallDenied>(TOOL_CALL_DENIED, { id, agent_id: agentId, tool: toolCall.name, status: "denied", stage, reason, approval_id: approvalId }).pipe(
              Effect.as<ToolCallResult>({ ...base, status: "denied", is_error: true, content: reason, stage })
            )

          yield* append<ToolCallRequested>(TOOL_CALL_REQUESTED, {
            id,
            agent_id: agentId,
            call_id: toolCall.id,
            tool: toolCall.name,
            arguments_bytes: Buffer.byteLength(toolCall.arguments, "utf8"),
            arguments_sha256: sha256(toolCall.arguments)
          })

          // 0. arguments
          const found = yield* registry.get(toolCall.name)
          if (Option.isNone(found)) return yield* deny("arguments", `unknown tool "${toolCall.name}"`)
          const tool = found.value
          // some models send "" for a call without arguments
          const parsed = Either.try(() => (toolCall.arguments.trim() === "" ? {} : JSON.parse(toolCall.arguments)) as unknown)
          if (Either.isLeft(parsed)) return yield* deny("arguments", `arguments are not valid JSON: ${String((parsed.left as Error).message ?? parsed.left)}`)
          const decoded = tool.decode(parsed.right)
          if (Either.isLeft(decoded)) return yield* deny("arguments", decoded.left)
          const plan = decoded.right

          // 1. permission: the tool itself, then each path it touches
          const aspects = { tool: tool.name, network: plan.access.network, fork: plan.access.fork }
          const requests = plan.access.paths.length === 0 ? [aspects] : plan.access.paths.map((path) => ({ ...aspects, path }))
          for (const request of requests) {
            const verdict = yield* permissions.check(agentId, request, context)
            if (!verdict.allowed) return yield* deny("permission", `permission denied: ${verdict.reason}`)
          }

          // 2. budget: fails closed when exhausted; no budget means no limit
          const budget = yield* budgets.reserve(agentId, { tokens: 0, calls: 1 }, context).pipe(
            Effect.as<"reserved" | "unlimited" | { readonly exhausted: string }>("reserved"),
            Effect.catchTags({
              EntityNotFound: () => Effect.succeed("unlimited" as const),
              Exhausted: (e) => Effect.succeed({ exhausted: e.message })
            })
          )
          if (typeof budget !== "string") return yield* deny("budget", budget.exhausted)

          // 3. approval
          const current = yield* config.current
          const need = needsApproval(plan, current.tools.policies[tool.name] ?? "on_demand")
          let approvalId: string | null = null
          if (need.ask) {
            yield* beforeEgress(store)
            const pending = yield* approvals.request(
              { subject: agentId, action: `use_tool:${tool.name}`, resource: plan.resource.slice(0, 256), reason: need.reason },
              context
            )
            approvalId = pending.id
            const decision = yield* pending.decision
            if (decision !== "approved") {
              const why = decision === "rejected" ? "a person rejected the call" : "no one approved the call before the approval expired"
              return yield* deny("approval", `${why} (${need.reason})`, pending.id)
            }
          }

          // 4. execution
          const agentPermissions = yield* Effect.option(permissions.get(agentId))
          const timeoutSecs = Math.min(
            yield* tool.timeoutSecs,
            Option.match(agentPermissions, { onNone: () => Infinity, onSome: (p) => p.max_execution_time_secs })
          )
          const canAccess = (path: string) =>
            Option.match(agentPermissions, { onNone: () => false, onSome: (p) => decideAccess(p, { tool: tool.name, path }).allowed })
          yield* append<ToolCallStarted>(TOOL_CALL_STARTED, {
            id,
            agent_id: agentId,
            tool: tool.name,
            status: "running",
            budget,
            approval_id: approvalId,
            timeout_secs: timeoutSecs
          })
          yield* beforeEgress(store)
          const started = yield* Clock.currentTimeMillis
          const elapsed = Effect.map(Clock.currentTimeMillis, (now) => Math.max(0, Math.round(now - started)))
          const failed = (reason: string, timedOut: boolean) =>
            Effect.flatMap(elapsed, (duration_ms) =>
              append<ToolCallFailed>(TOOL_CALL_FAILED, { id, agent_id: agentId, tool: tool.name, status: "failed", duration_ms, reason, timed_out: timedOut }))
          const outcome = yield* execution.execute(agentId, toolCall, plan.run({ agentId, context, timeoutSecs, canAccess })).pipe(
            Effect.timeoutFail({
              duration: timeoutSecs * 1000 + GRACE_MS,
              onTimeout: () => new ToolFailed({ message: `${tool.name} did not finish within its ${timeoutSecs} s time limit`, timedOut: true })
            }),
            Effect.either,
            // a call cut short (the agent was stopped) is still finished on the record
            Effect.onInterrupt(() => Effect.ignore(failed("interrupted: the agent was stopped", false)))
          )
          if (Either.isLeft(outcome)) {
            yield* failed(outcome.left.message, outcome.left.timedOut === true)
            return { ...base, status: "failed", is_error: true, content: outcome.left.message } satisfies ToolCallResult
          }
          const output: ToolOutput = outcome.right
          const content = capText(output.text, current.tools.output_cap_bytes)
          yield* append<ToolCallCompleted>(TOOL_CALL_COMPLETED, {
            id,
            agent_id: agentId,
            tool: tool.name,
            status: "completed",
            duration_ms: yield* elapsed,
            output_bytes: Buffer.byteLength(content, "utf8"),
            sha256: sha256(content),
            exit_code: output.exitCode ?? null,
            output: content
          })
          return {
            ...base,
            status: "completed",
            is_error: false,
            content,
            ...(output.exitCode === undefined ? {} : { exit_code: output.exitCode })
          } satisfies ToolCallResult
        })

      const chargeUsage = (agentId: string, usage: ChargedUsage, context: CommandContext) =>
        budgets.charge(
          agentId,
          { tokens: usage.prompt_tokens + usage.completion_tokens, calls: 0, reservedTokens: usage.reserved_tokens ?? 0 },
          context
        )

      return ToolGate.of({ call, chargeUsage })
    })
  )
}
