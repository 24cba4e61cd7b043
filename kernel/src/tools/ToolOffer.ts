/**
 * The tools an agent is offered: their specs exactly as they go in the `tools` of each of its
 * model requests, fixed when it starts. Live, the registry's (built-ins and what programs
 * registered), put on the record in the agent's `agent_started`; in a replay, the ones the
 * recorded agent was offered (replay/Replay.ts), so a run on a server with programs installed
 * asks the model what it asked then.
 */
import { Context, Effect, Layer } from "effect"
import type { ToolSpec } from "../llm/LanguageModel.js"
import { ToolRegistry } from "./ToolRegistry.js"

/** What an agent is offered, and whether it goes on its `agent_started`. */
export interface Offer {
  readonly tools: ReadonlyArray<ToolSpec>
  /** False only in a replay of an agent recorded before offers were: its `agent_started` has none. */
  readonly onRecord: boolean
}

export class ToolOffer extends Context.Tag("@annal/kernel/ToolOffer")<
  ToolOffer,
  {
    /** The tools agent `agent` is offered for its whole loop. */
    readonly offered: (agent: { readonly id: string; readonly name: string }) => Effect.Effect<Offer>
  }
>() {
  /** The registry's tools as the agent starts, on the record. */
  static readonly live = Layer.effect(
    ToolOffer,
    Effect.map(ToolRegistry, (registry) => ToolOffer.of({ offered: () => Effect.map(registry.specs, (tools) => ({ tools, onRecord: true })) }))
  )
}
