/**
 * The WebSocket chat protocol's pure parts: reading a client's text frame, which log events a
 * socket follows, and the server frames an event becomes. The socket handler
 * (`handlers/ChatStream.ts`) only wires these to the bus, the orchestrator and the socket.
 *
 * A socket follows sessions: the ones it sent messages in, the one it resumed, or every chat
 * (a resume without `session_id`). An event belongs to a session through its
 * `meta.session_id`, which every event of a chat run carries — the run's phases, its agents,
 * their tool calls and approval requests, the session's reply.
 */
import { ChatContent, ClientFrame, type ServerFrame } from "@annal/spec"
import type { StoredEvent } from "@annal/store"
import { Either, ParseResult, Schema } from "effect"
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../http/JsonBody.js"

/** What a client's text frame asks for. */
export type ClientRequest =
  | { readonly _tag: "Message"; readonly content: string; readonly session_id?: string | undefined; readonly user_id?: string | undefined }
  | { readonly _tag: "Resume"; readonly last_seq: number; readonly session_id?: string | undefined }
  | { readonly _tag: "Decide"; readonly decision: "approve" | "reject"; readonly id: string }

const decodeFrame = Schema.decodeUnknownEither(ClientFrame, { onExcessProperty: "error", errors: "first" })
const decodeContent = Schema.decodeUnknownEither(ChatContent)

const describe = (error: ParseResult.ParseError) => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return issue === undefined ? "invalid frame" : issue.path.length === 0 ? issue.message : `invalid field "${issue.path.join(".")}": ${issue.message}`
}

/**
 * A JSON object with a string `type` is a protocol frame, decoded strictly; any other text is a
 * plain message in the socket's current session.
 */
export const parseClientFrame = (text: string): Either.Either<ClientRequest, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  const isFrame = typeof json === "object" && json !== null && !Array.isArray(json) && typeof (json as { type?: unknown }).type === "string"
  if (!isFrame) return Either.mapBoth(decodeContent(text), { onLeft: describe, onRight: (content): ClientRequest => ({ _tag: "Message", content }) })
  // the decoder and its error messages recurse once per level: a frame too deep is refused first
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) return Either.left(`the frame nests deeper than ${MAX_JSON_DEPTH} levels`)
  const type = (json as { type: string }).type
  if (!["message", "resume", "approve", "reject"].includes(type)) {
    return Either.left(`unknown frame type ${JSON.stringify(type.slice(0, 40))}: expected message, resume, approve or reject`)
  }
  return Either.mapBoth(decodeFrame(json), {
    onLeft: describe,
    onRight: (f): ClientRequest =>
      f.type === "message"
        ? { _tag: "Message", content: f.content, session_id: f.session_id, user_id: f.user_id }
        : f.type === "resume"
        ? { _tag: "Resume", last_seq: f.last_seq, session_id: f.session_id }
        : { _tag: "Decide", decision: f.type, id: f.id }
  })
}

/** Which sessions a socket follows: every chat, or these. */
export interface Follow {
  readonly all: boolean
  readonly sessions: ReadonlySet<string>
}

export const followNothing: Follow = { all: false, sessions: new Set() }

export const followSession = (follow: Follow, sessionId: string): Follow =>
  follow.all || follow.sessions.has(sessionId) ? follow : { all: false, sessions: new Set([...follow.sessions, sessionId]) }

export const followAll: Follow = { all: true, sessions: new Set() }

const sessionOf = (event: StoredEvent): string | undefined => (typeof event.meta.session_id === "string" ? event.meta.session_id : undefined)

/** Whether `follow` takes in `event`. */
export const follows = (follow: Follow, event: StoredEvent): boolean => {
  const session = sessionOf(event)
  return session !== undefined && (follow.all || follow.sessions.has(session))
}

/**
 * What a socket already sent when it resubscribed from an earlier seq (a resume): events after
 * `from` up to `until` that `follow` took in went out once and are not sent again.
 */
export interface Sent {
  readonly from: number
  readonly until: number
  readonly follow: Follow
}

export const alreadySent = (sent: Sent | undefined, event: StoredEvent): boolean =>
  sent !== undefined && event.seq > sent.from && event.seq <= sent.until && follows(sent.follow, event)

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

/**
 * Turns followed events into frames. It remembers a reply's text from `agent_responded` until its
 * run's end says whether it was the answer (`reply`) or the record of a failure (`error`), and
 * the approvals it announced, so their resolution is shown whoever decided them.
 */
export class FrameMapper {
  private readonly responses = new Map<string, { readonly content: string; readonly phase: unknown; readonly seed_id: unknown; readonly passed: unknown }>()
  private readonly approvals = new Set<string>()

  /** Shows the resolution of this approval too (the socket decides it). */
  watchApproval(id: string): void {
    this.approvals.add(id)
  }

  unwatchApproval(id: string): void {
    this.approvals.delete(id)
  }

  /** Whether the event matters to a socket that follows `follow`. */
  wants(follow: Follow, event: StoredEvent): boolean {
    return follows(follow, event) || (event.type === "approval_resolved" && this.approvals.has(String(event.data.id)))
  }

  /**
   * The frames of one event (often none). A `reply` whose `agent_responded` came before the
   * socket's first event (a resume that starts in between) has `reply: null`, for the caller to fill.
   */
  frames(event: StoredEvent): ReadonlyArray<ServerFrame> {
    const d = event.data
    const seq = event.seq
    const session_id = sessionOf(event)
    switch (event.type) {
      case "phase_started":
      case "phase_completed":
        return [
          defined({
            type: event.type,
            seq,
            session_id,
            run_id: d.run_id,
            phase: d.phase,
            generation: d.generation,
            seed_id: d.seed_id,
            outcome: d.outcome,
            repaired: d.repaired,
            fallback: d.fallback,
            detail: d.detail
          }) as ServerFrame
        ]
      case "tool_call_requested":
        return [{ type: "tool_start", seq, session_id, agent_id: d.agent_id, id: d.id, call_id: d.call_id, tool: d.tool }]
      case "tool_call_completed":
      case "tool_call_failed":
      case "tool_call_denied":
        return [
          defined({
            type: "tool_end",
            seq,
            session_id,
            agent_id: d.agent_id,
            id: d.id,
            tool: d.tool,
            status: d.status,
            stage: d.stage,
            reason: d.reason,
            timed_out: d.timed_out,
            duration_ms: d.duration_ms,
            exit_code: d.exit_code
          }) as ServerFrame
        ]
      case "approval_requested": {
        this.approvals.add(String(d.id))
        return [{ type: "approval_requested", seq, session_id, id: d.id, subject: d.subject, action: d.action, resource: d.resource, reason: d.reason, expires_at: d.expires_at }]
      }
      case "approval_resolved": {
        const id = String(d.id)
        if (!this.approvals.delete(id)) return []
        return [{ type: "approval_resolved", seq, id, status: d.resolution, by: d.by }]
      }
      case "agent_responded": {
        const id = str(d.message_id)
        if (id !== undefined) this.responses.set(id, { content: String(d.content), phase: d.phase_reached, seed_id: d.seed_id, passed: d.evaluation_passed })
        return []
      }
      case "chat_run_completed": {
        const id = String(d.message_id)
        const response = this.responses.get(id)
        this.responses.delete(id)
        return [
          {
            type: "reply",
            seq,
            session_id,
            run_id: d.run_id,
            id,
            reply: response?.content ?? null,
            phase: d.phase,
            seed_id: d.seed_id,
            evaluation_passed: d.passed
          },
          { type: "done", seq, session_id, run_id: d.run_id, status: "completed", phase: d.phase }
        ]
      }
      case "chat_run_failed": {
        const id = str(d.message_id)
        if (id !== undefined) this.responses.delete(id)
        return [
          { type: "error", seq, session_id, run_id: d.run_id, error: d.error, phase: d.phase },
          { type: "done", seq, session_id, run_id: d.run_id, status: "failed", phase: d.phase }
        ]
      }
      default:
        return []
    }
  }
}
