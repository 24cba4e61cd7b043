/**
 * The chat page's state, folded from the WebSocket's frames by a pure reducer: one turn per
 * message, its run's phases, tool calls and approvals as a timeline, the streamed text, the reply.
 * A frame with a `seq` is applied once however often it arrives (a resume after a reconnect
 * replays what the client may already have), so nothing shows twice.
 */

export interface Frame {
  readonly type: string
  readonly seq?: number
  readonly [field: string]: unknown
}

export interface ToolCall {
  readonly kind: "tool"
  readonly id: string
  readonly tool: string
  readonly agentId: string | undefined
  readonly status: "running" | "completed" | "failed" | "denied"
  readonly stage: string | undefined
  readonly reason: string | undefined
  readonly durationMs: number | undefined
}

export interface ApprovalItem {
  readonly kind: "approval"
  readonly id: string
  readonly action: string
  readonly resource: string
  readonly reason: string
  readonly expiresAt: string | undefined
  readonly status: "pending" | "approved" | "rejected" | "expired"
  readonly by: string
}

export interface PhaseItem {
  readonly kind: "phase"
  readonly phase: string
  readonly state: "started" | "completed"
  readonly generation: number | undefined
  /** What the interview decided: `questions`, `proceed` or `respond`. */
  readonly outcome: string | undefined
  /** The model's answer stayed unreadable after the repair request: what the run did instead. */
  readonly fallback: string | undefined
}

export type TimelineItem = ToolCall | ApprovalItem | PhaseItem

export interface Turn {
  /** A local key until the run's id is known. */
  readonly key: string
  readonly user: string | undefined
  readonly runId: string | undefined
  readonly timeline: ReadonlyArray<TimelineItem>
  readonly streaming: string
  readonly reply: string | undefined
  readonly replyPhase: string | undefined
  readonly evaluationPassed: boolean | undefined
  readonly status: "running" | "completed" | "failed"
  readonly error: string | undefined
  readonly agents: ReadonlyArray<string>
  /** The run's seed (the latest a frame named: an evolution makes a new one); its goal, criteria and score are read from `GET /api/seeds/{id}`. */
  readonly seedId: string | undefined
}

export interface ChatState {
  readonly sessionId: string | undefined
  readonly turns: ReadonlyArray<Turn>
  readonly lastSeq: number
  /** Keys of the frames with a seq already applied. */
  readonly seen: ReadonlySet<string>
  /** A problem not tied to a turn (a refused frame, a lost connection). */
  readonly notice: string | undefined
}

export const emptyChat = (sessionId?: string): ChatState => ({ sessionId, turns: [], lastSeq: 0, seen: new Set(), notice: undefined })

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined)

const newTurn = (key: string, user: string | undefined): Turn => ({
  key,
  user,
  runId: undefined,
  timeline: [],
  streaming: "",
  reply: undefined,
  replyPhase: undefined,
  evaluationPassed: undefined,
  status: "running",
  error: undefined,
  agents: [],
  seedId: undefined
})

/** Turns from a stored session (`GET /api/sessions/{id}`): its messages and replies, in order. */
export const fromSession = (session: {
  readonly id: string
  readonly user_messages: ReadonlyArray<string>
  readonly agent_responses: ReadonlyArray<{ readonly content: string; readonly phase_reached: string | null; readonly evaluation_passed: boolean | null }>
}): ChatState => {
  const turns = session.user_messages.map((user, i): Turn => {
    const response = session.agent_responses[i]
    return {
      ...newTurn(`stored-${i}`, user),
      reply: response?.content,
      replyPhase: response?.phase_reached ?? undefined,
      evaluationPassed: response?.evaluation_passed ?? undefined,
      status: response === undefined ? "running" : "completed"
    }
  })
  return { ...emptyChat(session.id), turns }
}

/** The user sent a message: a new turn waits for its run. */
export const sent = (state: ChatState, content: string, key: string): ChatState => ({
  ...state,
  notice: undefined,
  turns: [...state.turns, newTurn(key, content)]
})

const frameKey = (frame: Frame) => `${frame.seq}:${frame.type}:${str(frame.id) ?? ""}`

/** The turn a frame belongs to: by run id, else the latest running turn (tool and approval frames name no run). */
const turnIndex = (turns: ReadonlyArray<Turn>, runId: string | undefined): number => {
  if (runId !== undefined) {
    const byRun = turns.findIndex((t) => t.runId === runId)
    if (byRun >= 0) return byRun
    const waiting = turns.findIndex((t) => t.runId === undefined && t.status === "running")
    if (waiting >= 0) return waiting
    return -1
  }
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i]!.status === "running") return i
  return turns.length - 1
}

const updateTurn = (state: ChatState, frame: Frame, f: (turn: Turn) => Turn): ChatState => {
  const runId = str(frame.run_id)
  let turns = [...state.turns]
  let index = turnIndex(turns, runId)
  if (index < 0) {
    // a run this page did not start (another tab, or a resume): it gets a turn of its own
    turns = [...turns, newTurn(runId ?? `run-${turns.length}`, undefined)]
    index = turns.length - 1
  }
  const current = turns[index]!
  const withRun = runId !== undefined && current.runId === undefined ? { ...current, runId } : current
  const agentId = str(frame.agent_id)
  const withAgent = agentId !== undefined && !withRun.agents.includes(agentId) ? { ...withRun, agents: [...withRun.agents, agentId] } : withRun
  const seedId = str(frame.seed_id)
  const withSeed = seedId !== undefined && seedId !== withAgent.seedId ? { ...withAgent, seedId } : withAgent
  turns[index] = f(withSeed)
  return { ...state, turns }
}

const replaceItem = <A extends TimelineItem>(timeline: ReadonlyArray<TimelineItem>, match: (item: TimelineItem) => item is A, f: (item: A) => A) => {
  const index = timeline.findIndex(match)
  if (index < 0) return timeline
  const copy = [...timeline]
  copy[index] = f(copy[index] as A)
  return copy
}

/** Applies one server frame. */
export const applyFrame = (state: ChatState, frame: Frame): ChatState => {
  const sessionId = str(frame.session_id)
  if (state.sessionId !== undefined && sessionId !== undefined && sessionId !== state.sessionId) return state
  let next = state
  if (frame.seq !== undefined) {
    const key = frameKey(frame)
    if (state.seen.has(key)) return state
    next = { ...state, seen: new Set(state.seen).add(key), lastSeq: Math.max(state.lastSeq, frame.seq) }
  }
  if (next.sessionId === undefined && sessionId !== undefined) next = { ...next, sessionId }
  switch (frame.type) {
    case "token": {
      const phase = str(frame.phase)
      // structured phases stream JSON: only prose phases are shown as text
      if (phase !== "respond" && phase !== "execute") return next
      return updateTurn(next, frame, (t) => ({ ...t, streaming: t.streaming + (str(frame.text) ?? "") }))
    }
    case "phase_started":
    case "phase_completed":
      return updateTurn(next, frame, (t) => ({
        ...t,
        timeline: [
          ...t.timeline,
          {
            kind: "phase",
            phase: str(frame.phase) ?? "?",
            state: frame.type === "phase_started" ? "started" : "completed",
            generation: num(frame.generation),
            outcome: str(frame.outcome),
            fallback: str(frame.fallback)
          }
        ]
      }))
    case "tool_start":
      return updateTurn(next, frame, (t) => ({
        ...t,
        timeline: [
          ...t.timeline,
          { kind: "tool", id: str(frame.id) ?? "", tool: str(frame.tool) ?? "?", agentId: str(frame.agent_id), status: "running", stage: undefined, reason: undefined, durationMs: undefined }
        ]
      }))
    case "tool_end": {
      const id = str(frame.id)
      const status = str(frame.status)
      return updateTurn(next, frame, (t) => ({
        ...t,
        timeline: replaceItem(t.timeline, (i): i is ToolCall => i.kind === "tool" && i.id === id, (call) => ({
          ...call,
          status: status === "completed" || status === "failed" || status === "denied" ? status : call.status,
          stage: str(frame.stage),
          reason: str(frame.reason),
          durationMs: num(frame.duration_ms)
        }))
      }))
    }
    case "approval_requested":
      return updateTurn(next, frame, (t) => ({
        ...t,
        timeline: [
          ...t.timeline,
          {
            kind: "approval",
            id: str(frame.id) ?? "",
            action: str(frame.action) ?? "",
            resource: str(frame.resource) ?? "",
            reason: str(frame.reason) ?? "",
            expiresAt: str(frame.expires_at),
            status: "pending",
            by: ""
          }
        ]
      }))
    case "approval_resolved": {
      const id = str(frame.id)
      const status = str(frame.status)
      const turns = next.turns.map((t) => ({
        ...t,
        timeline: replaceItem(t.timeline, (i): i is ApprovalItem => i.kind === "approval" && i.id === id, (a) => ({
          ...a,
          status: status === "approved" || status === "rejected" || status === "expired" ? status : a.status,
          by: str(frame.by) ?? ""
        }))
      }))
      return { ...next, turns }
    }
    case "reply":
      return updateTurn(next, frame, (t) => ({
        ...t,
        reply: str(frame.reply) ?? t.streaming,
        streaming: "",
        replyPhase: str(frame.phase),
        evaluationPassed: typeof frame.evaluation_passed === "boolean" ? frame.evaluation_passed : undefined
      }))
    case "error":
      // an error about a frame the client sent, not a run's
      if (frame.seq === undefined && frame.run_id === undefined) {
        const waiting = next.turns.findIndex((t) => t.runId === undefined && t.status === "running")
        if (waiting < 0) return { ...next, notice: str(frame.error) }
        const turns = [...next.turns]
        turns[waiting] = { ...turns[waiting]!, status: "failed", error: str(frame.error) }
        return { ...next, turns }
      }
      return updateTurn(next, frame, (t) => ({ ...t, error: str(frame.error) }))
    case "done":
      return updateTurn(next, frame, (t) => ({ ...t, status: str(frame.status) === "failed" ? "failed" : "completed", streaming: "" }))
    default:
      return next
  }
}

/** Whether an error says that no language model is configured. */
export const isNoModel = (message: string | undefined) => message !== undefined && /no language model/i.test(message)
