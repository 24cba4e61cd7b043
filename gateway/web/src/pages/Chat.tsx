/**
 * Chat: the sessions, and the conversation of the open one over the WebSocket — tokens as they
 * stream, the run's phases, tool calls and approvals as a compact timeline (approvals decided
 * here; each call's arguments and result read from the record on demand), the seed's goal,
 * criteria and evaluation score, the reply as sanitized Markdown, and a stop button that kills
 * the run's agents.
 */
import { useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks"
import { call } from "../api.js"
import { ChatSocket, chatSocketUrl } from "../chat/ChatSocket.js"
import { type StreamEvent, toolCallStream, type ToolDetail, toolDetailOf } from "../chat/details.js"
import { applyFrame, type ApprovalItem, type ChatState, emptyChat, type Frame, fromSession, isNoModel, sent, type TimelineItem, type ToolCall, type Turn } from "../chat/chatState.js"
import { useLoad, useNow } from "../hooks.js"
import { renderMarkdown } from "../markdown.js"
import { navigate, usePath } from "../router.js"
import { t } from "../strings.js"

type Action =
  | { readonly type: "frame"; readonly frame: Frame }
  | { readonly type: "reset"; readonly state: ChatState }
  | { readonly type: "sent"; readonly content: string; readonly key: string }

const reducer = (state: ChatState, action: Action): ChatState => {
  switch (action.type) {
    case "frame":
      return applyFrame(state, action.frame)
    case "reset":
      return action.state
    case "sent":
      return sent(state, action.content, action.key)
  }
}

interface SessionSummary {
  readonly id: string
  readonly message_count: number
  readonly updated_at: string
}

const shortId = (id: string) => id.slice(-8)

/** The events of a stream, newest first (at most 500: a tool call has a handful, an agent one per step and call). */
const streamEvents = async (stream: string) =>
  (await call<{ items: ReadonlyArray<StreamEvent> }>("logStream", { params: { stream }, query: { limit: 500 } })).items

/** A tool call's arguments and result, read from the record when opened. */
const ToolDetails = ({ item }: { readonly item: ToolCall }) => {
  const [detail, setDetail] = useState<ToolDetail | undefined>()
  const [error, setError] = useState<string | undefined>()
  const load = (event: Event) => {
    if (!(event.currentTarget as HTMLDetailsElement).open || detail !== undefined) return
    Promise.all([streamEvents(toolCallStream(item.id)), item.agentId === undefined ? [] : streamEvents(`agent-${item.agentId}`)]).then(
      ([calls, agent]) => setDetail(toolDetailOf(calls, agent)),
      (e: unknown) => setError(e instanceof Error ? e.message : String(e))
    )
  }
  return (
    <details class="tool-detail" onToggle={load}>
      <summary>{t.chat.toolDetails(item.tool)}</summary>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      {detail === undefined && error === undefined && <p class="muted">{t.common.loading}</p>}
      {detail !== undefined && (
        <dl>
          <dt>{t.chat.arguments}</dt>
          <dd><pre>{detail.arguments ?? t.chat.notRecorded}</pre></dd>
          <dt>{t.chat.result(detail.outcome, detail.stage)}</dt>
          <dd><pre>{detail.result ?? t.chat.notRecorded}</pre></dd>
        </dl>
      )}
    </details>
  )
}

interface Seed {
  readonly goal: string
  readonly acceptance_criteria: ReadonlyArray<string>
  readonly evaluation: { readonly score: number; readonly passed: boolean } | null
}

/** The run's seed: its goal and acceptance criteria, and its evaluation's score once it has one. */
const SeedCard = ({ seedId, status }: { readonly seedId: string; readonly status: Turn["status"] }) => {
  // read again when the run ends: the evaluation's score arrives last
  const seed = useLoad(() => call<Seed>("seed", { params: { id: seedId } }), [seedId, status])
  if (seed.data === undefined || !("goal" in seed.data)) return null
  const { goal, acceptance_criteria: criteria, evaluation } = seed.data
  return (
    <section class="seed" aria-label={t.chat.seed}>
      <p><strong>{t.chat.goal}:</strong> {goal}</p>
      {criteria.length > 0 && (
        <>
          <p class="small muted">{t.chat.criteria}</p>
          <ul class="small">{criteria.map((c, i) => <li key={i}>{c}</li>)}</ul>
        </>
      )}
      {evaluation !== null && <p class="small">{t.chat.evaluation(evaluation.score, evaluation.passed)}</p>}
    </section>
  )
}

const Approval = ({ item, decide }: { readonly item: ApprovalItem; readonly decide: (id: string, approve: boolean) => void }) => {
  const now = useNow()
  const secs = item.expiresAt === undefined ? 0 : Math.max(0, Math.round((Date.parse(item.expiresAt) - now) / 1000))
  return (
    <li class={`approval ${item.status}`}>
      <strong>{t.chat.approval}</strong> <code>{item.action}</code> <code>{item.resource}</code>
      {item.reason !== "" && <span class="muted"> — {item.reason}</span>}
      {item.status === "pending" ? (
        <span class="decide">
          <span class="muted">{t.chat.expires(secs)}</span>
          <button type="button" onClick={() => decide(item.id, true)}>{t.chat.approve}</button>
          <button type="button" class="danger" onClick={() => decide(item.id, false)}>{t.chat.reject}</button>
        </span>
      ) : (
        <span class="badge">{t.chat.approvalResolved(item.status, item.by)}</span>
      )}
    </li>
  )
}

const TimelineEntry = ({ item, decide }: { readonly item: TimelineItem; readonly decide: (id: string, approve: boolean) => void }) => {
  switch (item.kind) {
    case "phase":
      return (
        <li class={`phase ${item.state}`}>
          {item.state === "started" ? t.chat.phase(item.phase) : t.chat.phaseDone(item.phase)}
          {item.generation !== undefined && item.generation > 1 ? ` (gen ${item.generation})` : ""}
          {item.outcome !== undefined && <span class="muted"> · {t.chat.interviewOutcome[item.outcome] ?? item.outcome}</span>}
          {item.fallback !== undefined && <span class="muted"> · {t.chat.fallback[item.fallback] ?? item.fallback}</span>}
        </li>
      )
    case "tool":
      return (
        <li class={`tool ${item.status}`}>
          <code>{item.tool}</code> <span class="badge">{t.chat.toolStatus[item.status] ?? item.status}</span>
          {item.durationMs !== undefined && <span class="muted"> {t.chat.duration(item.durationMs)}</span>}
          {item.stage !== undefined && <span class="muted"> · {item.stage}</span>}
          {item.reason !== undefined && <span class="muted"> · {item.reason}</span>}
          {item.id !== "" && <ToolDetails item={item} />}
        </li>
      )
    case "approval":
      return <Approval item={item} decide={decide} />
  }
}

const TurnView = ({ turn, decide }: { readonly turn: Turn; readonly decide: (id: string, approve: boolean) => void }) => {
  const html = useMemo(() => (turn.reply === undefined ? undefined : renderMarkdown(turn.reply)), [turn.reply])
  return (
    <article class="turn">
      {turn.user !== undefined && (
        <div class="msg user">
          <span class="who">{t.chat.you}</span>
          <p>{turn.user}</p>
        </div>
      )}
      <div class="msg agent">
        <span class="who">{t.chat.annal}</span>
        {turn.seedId !== undefined && <SeedCard seedId={turn.seedId} status={turn.status} />}
        {turn.timeline.length > 0 && (
          <ol class="timeline" aria-label={t.chat.timeline}>
            {turn.timeline.map((item, i) => <TimelineEntry key={i} item={item} decide={decide} />)}
          </ol>
        )}
        {turn.streaming !== "" && <p class="streaming" data-testid="streaming">{turn.streaming}</p>}
        {html !== undefined && <div class="markdown reply" dangerouslySetInnerHTML={{ __html: html }} />}
        {turn.evaluationPassed !== undefined && <p class="muted">{t.chat.score(turn.evaluationPassed)}</p>}
        {turn.error !== undefined && (
          <div role="alert" class="error">
            {isNoModel(turn.error) ? <NoModel detail={turn.error} /> : <p>{t.chat.failed}: {turn.error}</p>}
          </div>
        )}
        {turn.status === "running" && turn.reply === undefined && turn.streaming === "" && turn.error === undefined && (
          <p class="muted" aria-busy="true">{t.chat.thinking}</p>
        )}
      </div>
    </article>
  )
}

const NoModel = ({ detail }: { readonly detail?: string | undefined }) => (
  <div class="nomodel">
    <p><strong>{t.chat.noModel}</strong></p>
    <p>{t.chat.noModelHow}</p>
    {detail !== undefined && <p class="muted">{detail}</p>}
  </div>
)

export const ChatPage = () => {
  const path = usePath()
  const openId = path.startsWith("/chat/") ? decodeURIComponent(path.slice("/chat/".length)) : undefined
  const [state, dispatch] = useReducer(reducer, undefined, () => emptyChat(openId))
  const stateRef = useRef(state)
  stateRef.current = state
  const [connected, setConnected] = useState(true)
  const [draft, setDraft] = useState("")
  const [stopping, setStopping] = useState(false)
  const socketRef = useRef<ChatSocket | undefined>(undefined)
  const logRef = useRef<HTMLDivElement>(null)
  const sessions = useLoad(() => call<{ items: ReadonlyArray<SessionSummary> }>("sessions", { query: { limit: 100 } }), [])
  const status = useLoad(() => call<{ components: { llm: { configured: boolean; detail: string | null }; state_store: { head_seq: number } } }>("status"), [])

  useEffect(() => {
    const socket = new ChatSocket(chatSocketUrl(location), {
      onFrame: (frame) => dispatch({ type: "frame", frame }),
      onStatus: setConnected,
      resumePoint: () => ({ lastSeq: stateRef.current.lastSeq, sessionId: stateRef.current.sessionId })
    })
    socketRef.current = socket
    return () => socket.close()
  }, [])

  // opening a session: its history from the API, then its live frames from the head on
  useEffect(() => {
    if (openId === undefined) {
      if (stateRef.current.sessionId !== undefined && stateRef.current.turns.length > 0) dispatch({ type: "reset", state: emptyChat() })
      return
    }
    if (stateRef.current.sessionId === openId && stateRef.current.turns.length > 0) return
    let live = true
    Promise.all([call("session", { params: { id: openId } }), call<{ components: { state_store: { head_seq: number } } }>("status")]).then(
      ([session, s]) => {
        if (!live) return
        const loaded = fromSession(session)
        const head = s.components.state_store.head_seq
        dispatch({ type: "reset", state: { ...loaded, lastSeq: head } })
        socketRef.current?.follow(openId, head)
      },
      () => live && dispatch({ type: "reset", state: emptyChat(openId) })
    )
    return () => {
      live = false
    }
  }, [openId])

  // a new session gets its address with its first message
  useEffect(() => {
    if (state.sessionId !== undefined && openId === undefined && state.turns.length > 0) {
      history.replaceState(null, "", `/chat/${encodeURIComponent(state.sessionId)}`)
    }
  }, [state.sessionId, state.turns.length])

  // the list shows a session once a run in it ended (its messages are then on the record)
  const settled = state.turns.filter((turn) => turn.status !== "running").length
  useEffect(() => {
    if (settled > 0) sessions.reload()
  }, [settled])

  useEffect(() => {
    const log = logRef.current
    if (log !== null) log.scrollTop = log.scrollHeight
  }, [state])

  const running = state.turns.some((turn) => turn.status === "running")
  const runningTurn = [...state.turns].reverse().find((turn) => turn.status === "running")

  const send = (event: Event) => {
    event.preventDefault()
    const content = draft.trim()
    if (content === "") return
    const sessionId = state.sessionId ?? crypto.randomUUID()
    if (state.sessionId === undefined) dispatch({ type: "reset", state: emptyChat(sessionId) })
    dispatch({ type: "sent", content, key: `local-${Date.now()}` })
    socketRef.current?.send({ type: "message", content, session_id: sessionId })
    setDraft("")
  }

  const decide = (id: string, approve: boolean) => socketRef.current?.send({ type: approve ? "approve" : "reject", id })

  const stop = async () => {
    if (runningTurn === undefined) return
    setStopping(true)
    await Promise.all(runningTurn.agents.map((id) => call("killAgent", { params: { id } }).catch(() => undefined)))
    setStopping(false)
  }

  const remove = async (id: string) => {
    await call("deleteSession", { params: { id } }).catch(() => undefined)
    sessions.reload()
    if (id === state.sessionId) {
      dispatch({ type: "reset", state: emptyChat() })
      navigate("/")
    }
  }

  const newSession = () => {
    dispatch({ type: "reset", state: emptyChat() })
    navigate("/")
  }

  const noModel = status.data !== undefined && !status.data.components.llm.configured

  return (
    <div class="chat">
      <aside class="sessions" aria-labelledby="sessions-title">
        <div class="row">
          <h2 id="sessions-title">{t.chat.sessions}</h2>
          <button type="button" onClick={newSession}>{t.chat.newSession}</button>
        </div>
        {sessions.data !== undefined && sessions.data.items.length === 0 && <p class="muted">{t.chat.noSessions}</p>}
        <ul>
          {sessions.data?.items.map((s) => (
            <li key={s.id} class={s.id === state.sessionId ? "current" : ""}>
              <a href={`/chat/${encodeURIComponent(s.id)}`} aria-current={s.id === state.sessionId ? "page" : undefined}>
                {shortId(s.id)} <span class="muted">({s.message_count}) {new Date(s.updated_at).toLocaleString()}</span>
              </a>
              <button type="button" class="icon" aria-label={t.chat.deleteSession(shortId(s.id))} onClick={() => remove(s.id)}>×</button>
            </li>
          ))}
        </ul>
      </aside>
      <section class="conversation" aria-label={t.nav.chat}>
        <h1 class="visually-hidden">{t.nav.chat}</h1>
        {noModel && (
          <div class="banner" role="status">
            <NoModel detail={status.data?.components.llm.detail ?? undefined} />
          </div>
        )}
        {!connected && <p class="banner" role="status">{t.chat.reconnecting}</p>}
        {state.notice !== undefined && <p role="alert" class="error">{state.notice}</p>}
        <div class="log" ref={logRef} role="log" aria-live="polite" tabIndex={0} aria-label={t.chat.timeline}>
          {state.turns.length === 0 && <p class="muted">{t.chat.empty}</p>}
          {state.turns.map((turn) => <TurnView key={turn.key} turn={turn} decide={decide} />)}
        </div>
        <form class="composer" onSubmit={send}>
          <label for="message" class="visually-hidden">{t.chat.messageLabel}</label>
          <textarea id="message" rows={2} placeholder={t.chat.placeholder} value={draft}
            onInput={(e) => setDraft((e.currentTarget as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault()
                ;(e.currentTarget as HTMLTextAreaElement).form?.requestSubmit()
              }
            }} />
          <button type="submit" disabled={draft.trim() === ""}>{t.chat.send}</button>
          {running && (
            <button type="button" class="danger" onClick={stop} disabled={stopping}>{stopping ? t.chat.stopping : t.chat.stop}</button>
          )}
        </form>
      </section>
    </div>
  )
}
