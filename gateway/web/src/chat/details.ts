/**
 * What the chat's timeline shows beyond its frames, read from the record through the public API:
 * a tool call's arguments (the model's answer that made the call, on its agent's stream) and
 * result (the call's own stream, `tool-call-<id>`). The frames carry neither: arguments and
 * outputs stay on the record, never on a live stream.
 */

/** An event as `GET /api/log/streams/{stream}` lists it (the fields read here). */
export interface StreamEvent {
  readonly type: string
  readonly data: Readonly<Record<string, unknown>>
}

/** A tool call as the record holds it. */
export interface ToolDetail {
  /** The arguments as the model wrote them (JSON text, indented when it parses), if found. */
  readonly arguments: string | undefined
  /** What the model was given back: the output, or the reason of a denial or a failure. */
  readonly result: string | undefined
  /** How it ended: `completed`, `failed`, `denied`, or `running` while it has not. */
  readonly outcome: string
  /** The gate's step that refused it, for a denial. */
  readonly stage: string | undefined
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)

/** JSON text indented two spaces; text that is not JSON as it is. */
export const indentJson = (text: string): string => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}

/** The stream of a tool call's own events. */
export const toolCallStream = (id: string) => `tool-call-${id}`

/**
 * A tool call from its stream's events and its agent's: the request names the model's call id,
 * and the agent's `model_answered` holding that id carries the arguments.
 */
export const toolDetailOf = (callEvents: ReadonlyArray<StreamEvent>, agentEvents: ReadonlyArray<StreamEvent>): ToolDetail => {
  const callId = str(callEvents.find((e) => e.type === "tool_call_requested")?.data.call_id)
  const made = agentEvents
    .filter((e) => e.type === "model_answered")
    .flatMap((e) => (Array.isArray(e.data.tool_calls) ? (e.data.tool_calls as ReadonlyArray<Readonly<Record<string, unknown>>>) : []))
    .find((c) => callId !== undefined && c.id === callId)
  const args = str(made?.arguments)
  const end = callEvents.find((e) => e.type === "tool_call_completed" || e.type === "tool_call_failed" || e.type === "tool_call_denied")
  return {
    arguments: args === undefined ? undefined : indentJson(args),
    result: end === undefined ? undefined : end.type === "tool_call_completed" ? str(end.data.output) : str(end.data.reason),
    outcome: end === undefined ? "running" : end.type.slice("tool_call_".length),
    stage: str(end?.data.stage)
  }
}
