/**
 * The record: the log's events, newest first, in a windowed list as tall as the whole log —
 * only the rows in view are in the page, and only the pages of `/api/audit/entries` they fall in
 * are fetched (each entry with its data, meta, hash and prev_hash) — live from `/api/events` as
 * events are appended; filtered by type, stream, actor and time over the events loaded; an
 * event's detail with its entity's history from `/api/log/streams/{stream}`; and verifying the
 * whole chain.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks"
import { call, urlOf } from "../api.js"
import { useAction } from "../hooks.js"
import { isFiltered, matches, noFilters, pagesInView, type RecordFilters, seqsOf } from "../recordPages.js"
import { t } from "../strings.js"
import { visibleRange } from "../virtual.js"

interface Row {
  readonly seq: number
  readonly at: string
  readonly type: string
  readonly stream: string
  readonly actor: string
  readonly hash?: string
  readonly prev_hash?: string
  /** The event's payload: whole from an entry, the public fields from a live event. */
  readonly data?: Record<string, unknown>
  readonly meta?: Record<string, unknown>
}

interface Entry {
  readonly seq: number
  readonly timestamp: string
  readonly type: string
  readonly stream: string
  readonly actor: string
  readonly hash: string
  readonly prev_hash: string
  readonly data: Record<string, unknown>
  readonly meta: Record<string, unknown>
}

interface StreamEvent {
  readonly seq: number
  readonly version: number
  readonly type: string
  readonly actor: string
  readonly at: string
}

/** Seqs per page fetched (the API answers at most 1000 per call). */
const PAGE = 500
/** A row's height in px: the list is head × ROW tall (Chromium's limit, ~33 M px, is ~1.2 M rows). */
const ROW = 28
const HISTORY_PAGE = 20
/** How long the view must rest before its pages are fetched: a fling through the log fetches only where it stops. */
const SETTLE_MS = 80

/** An audit entry as the event the log holds (its type, stream and actor, not the decision an access entry shows). */
const fromEntry = (e: Entry): Row => ({
  seq: e.seq, at: e.timestamp, type: e.type, stream: e.stream, actor: e.actor,
  hash: e.hash, prev_hash: e.prev_hash, data: e.data, meta: e.meta
})

const Verify = () => {
  const { busy, error, run } = useAction()
  const [result, setResult] = useState<{ valid: boolean; entry_count: number; broken_at_seq?: number; reason?: string } | undefined>()
  return (
    <div class="row">
      <button type="button" disabled={busy} onClick={() => run(async () => setResult(await call("auditVerify")))}>{busy ? t.record.verifying : t.record.verify}</button>
      <p role="status" class={result?.valid === false ? "error" : "ok"}>
        {result === undefined ? "" : result.valid ? t.record.valid(result.entry_count) : t.record.broken(result.broken_at_seq ?? 0, result.reason ?? "")}
      </p>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
    </div>
  )
}

/** The history of the entity an event changed: its stream's events, newest first, paged. */
const History = ({ stream, onOpen }: { readonly stream: string; readonly onOpen: (seq: number) => void }) => {
  const [events, setEvents] = useState<ReadonlyArray<StreamEvent>>([])
  const [total, setTotal] = useState(0)
  const { error, run } = useAction()
  const load = (page: number) =>
    run(async () => {
      const answer = await call<{ items: ReadonlyArray<StreamEvent>; total: number }>("logStream", { params: { stream }, query: { page, limit: HISTORY_PAGE } })
      setEvents((current) => (page === 1 ? answer.items : [...current, ...answer.items]))
      setTotal(answer.total)
    })
  useEffect(() => {
    setEvents([])
    load(1)
  }, [stream])
  return (
    <section class="stack" aria-label={t.record.historyOf(stream)}>
      <h3>{t.record.historyOf(stream)}</h3>
      <p class="muted">{t.record.historyCount(events.length, total)}</p>
      <ol class="history">
        {events.map((e) => (
          <li key={e.seq}>
            <button type="button" class="quiet" onClick={() => onOpen(e.seq)}>
              {t.record.version(e.version)} {e.type}
            </button>
            <span class="muted"> {e.actor} · {e.at}</span>
          </li>
        ))}
      </ol>
      {events.length < total && <button type="button" class="quiet" onClick={() => load(Math.floor(events.length / HISTORY_PAGE) + 1)}>{t.record.historyMore}</button>}
      <a href={urlOf("logStream", { params: { stream }, query: { limit: 500 } })}>{t.record.historyJson}</a>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
    </section>
  )
}

const RecordPage = () => {
  // every event read so far, by seq; `loaded` counts changes so the list re-renders
  const cache = useRef(new Map<number, Row>())
  const pages = useRef(new Set<number>())
  const [loaded, setLoaded] = useState(0)
  const [head, setHead] = useState(0)
  const [filters, setFilters] = useState<RecordFilters>(noFilters)
  const [selected, setSelected] = useState<Row | undefined>()
  const [scroll, setScroll] = useState({ top: 0, height: 600 })
  const viewport = useRef<HTMLDivElement>(null)

  const keep = (rows: ReadonlyArray<Row>) => {
    for (const row of rows) {
      const known = cache.current.get(row.seq)
      // an entry is the whole event; a live event only its public fields
      if (known === undefined || known.hash === undefined) cache.current.set(row.seq, row)
    }
    setLoaded(cache.current.size)
  }

  const loadPage = async (page: number) => {
    if (pages.current.has(page)) return
    pages.current.add(page)
    try {
      const answer = await call<{ entries: ReadonlyArray<Entry> }>("auditEntries", { query: seqsOf(page, PAGE) })
      keep(answer.entries.map(fromEntry))
    } catch (e) {
      // fetched again when it next comes into view
      pages.current.delete(page)
      throw e
    }
  }

  useEffect(() => {
    // live first, so nothing appended while the first page loads is missed
    const source = new EventSource(urlOf("events"))
    source.onmessage = (message) => {
      const { type, seq, at, stream, actor, ...data } = JSON.parse(message.data) as Record<string, unknown>
      const row: Row = { seq: Number(seq), at: String(at), type: String(type), stream: String(stream), actor: String(actor), data }
      keep([row])
      setHead((h) => Math.max(h, row.seq))
    }
    call<{ components: { state_store: { head_seq: number } } }>("status").then((s) => setHead((h) => Math.max(h, s.components.state_store.head_seq)))
    return () => source.close()
  }, [])

  useEffect(() => {
    const el = viewport.current
    if (el !== null) setScroll({ top: el.scrollTop, height: el.clientHeight })
  }, [])

  const filtered = isFiltered(filters)
  // filtered: the loaded events that match, newest first; otherwise every seq from the head down
  const shown = useMemo(
    () => (filtered ? [...cache.current.values()].filter((r) => matches(r, filters)).sort((a, b) => b.seq - a.seq) : undefined),
    [filtered, filters, loaded]
  )
  const count = shown === undefined ? head : shown.length
  const { first, last } = visibleRange(scroll.top, scroll.height, ROW, count)

  useEffect(() => {
    // filtered: at least the newest page is searched, even when the filter came before it loaded
    if (shown !== undefined) {
      if (head > 0) loadPage(Math.floor((head - 1) / PAGE)).catch(() => undefined)
      return
    }
    const timer = setTimeout(() => {
      for (const page of pagesInView(head, first, last, PAGE)) loadPage(page).catch(() => undefined)
    }, SETTLE_MS)
    return () => clearTimeout(timer)
  }, [shown === undefined, head, first, last])

  const oldestLoaded = Math.min(...pages.current, Infinity)
  const loadOlder = () => {
    const next = Number.isFinite(oldestLoaded) ? oldestLoaded - 1 : Math.floor((head - 1) / PAGE)
    if (next >= 0) loadPage(next).catch(() => undefined)
  }

  const open = async (seq: number) => {
    const known = cache.current.get(seq)
    if (known !== undefined) setSelected(known)
    if (known?.hash === undefined) {
      const answer = await call<{ entries: ReadonlyArray<Entry> }>("auditEntries", { query: { from_seq: seq, to_seq: seq } })
      const entry = answer.entries[0]
      if (entry !== undefined) {
        keep([fromEntry(entry)])
        setSelected(fromEntry(entry))
      }
    }
  }

  const field = (name: keyof RecordFilters, label: string) => (
    <label>
      {label}
      <input value={filters[name]} onInput={(e) => setFilters({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value })} />
    </label>
  )

  const rowAt = (position: number): Row | undefined => (shown === undefined ? cache.current.get(head - position) : shown[position])

  return (
    <section aria-labelledby="record-title">
      <h1 id="record-title">{t.record.title}</h1>
      <p class="muted">{t.record.intro}</p>
      <Verify />
      <fieldset class="filters">
        <legend>{t.record.filters}</legend>
        {field("type", t.record.type)}
        {field("stream", t.record.stream)}
        {field("actor", t.record.actor)}
        {field("since", t.record.since)}
      </fieldset>
      <p class="muted" role="status">{shown === undefined ? t.record.count(head) : t.record.countFiltered(shown.length, loaded, head)}</p>
      <div class="record">
        <div class="viewport" ref={viewport} tabIndex={0} role="listbox" aria-label={t.record.title}
          onScroll={(e) => setScroll({ top: (e.currentTarget as HTMLDivElement).scrollTop, height: (e.currentTarget as HTMLDivElement).clientHeight })}>
          <div class="rows" style={{ height: `${count * ROW}px` }}>
            {Array.from({ length: last - first }, (_, i) => {
              const position = first + i
              const row = rowAt(position)
              const style = { transform: `translateY(${position * ROW}px)` }
              if (row === undefined) {
                const seq = head - position
                return (
                  <div role="option" key={`seq-${seq}`} class="event pending" aria-selected={false} aria-busy="true" style={style}>
                    <span class="seq">{seq}</span>
                    <span class="muted">{t.record.loadingRow}</span>
                  </div>
                )
              }
              return (
                <button type="button" role="option" key={`seq-${row.seq}`} class="event" aria-selected={selected?.seq === row.seq}
                  style={style} onClick={() => open(row.seq)}>
                  <span class="seq">{row.seq}</span>
                  <span class="type">{row.type}</span>
                  <span class="muted stream">{row.stream}</span>
                </button>
              )
            })}
          </div>
        </div>
        <aside class="detail card" aria-label={t.record.detail}>
          <h2>{t.record.detail}</h2>
          {selected !== undefined && (
            <dl>
              <dt>{t.record.seq}</dt><dd>{selected.seq}</dd>
              <dt>{t.record.at}</dt><dd>{selected.at}</dd>
              <dt>{t.record.type}</dt><dd>{selected.type}</dd>
              <dt>{t.record.stream}</dt><dd>{selected.stream}</dd>
              <dt>{t.record.actor}</dt><dd>{selected.actor}</dd>
              <dt>{t.record.hash}</dt><dd><code>{selected.hash ?? "…"}</code></dd>
              <dt>{t.record.prevHash}</dt><dd><code>{selected.prev_hash ?? "…"}</code></dd>
              <dt>{t.record.data}</dt><dd><pre>{selected.data === undefined ? "…" : JSON.stringify(selected.data, null, 2)}</pre></dd>
              <dt>{t.record.meta}</dt><dd><pre>{selected.meta === undefined ? "…" : JSON.stringify(selected.meta, null, 2)}</pre></dd>
            </dl>
          )}
          {selected !== undefined && <History stream={selected.stream} onOpen={(seq) => open(seq)} />}
        </aside>
      </div>
      {shown !== undefined && oldestLoaded > 0 && <button type="button" class="quiet" onClick={loadOlder}>{t.record.older}</button>}
    </section>
  )
}

export default RecordPage
