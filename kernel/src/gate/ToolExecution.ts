/**
 * How a call that passed the gate is carried out: live, the tool runs; in a replay, the outcome
 * the record holds for the call is taken instead and nothing runs (replay/Replay.ts). The gate
 * records either the same way, so a replay's events can be compared with the record's.
 */
import { Context, type Effect, Layer } from "effect"
import type { ToolFailed, ToolOutput } from "../tools/Tool.js"
import type { ToolCallRequest } from "./ToolGate.js"

export class ToolExecution extends Context.Tag("@annal/kernel/ToolExecution")<
  ToolExecution,
  {
    /** The outcome of `call` by agent `agentId`; `run` runs the tool. */
    readonly execute: (agentId: string, call: ToolCallRequest, run: Effect.Effect<ToolOutput, ToolFailed>) => Effect.Effect<ToolOutput, ToolFailed>
  }
>() {
  /** The tool runs. */
  static readonly live = Layer.succeed(ToolExecution, { execute: (_agentId, _call, run) => run })
}
