/**
 * The record: the log's events, newest first — paged from `/api/audit/entries` (with each
 * event's hash and prev_hash), live from `/api/events` as they are appended — filtered by type,
 * stream, actor and time, in a windowed list that stays fast on a long log; an event's detail;
 * and verifying the whole chain.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks"
import { call, urlOf } from "../api.js"
import { useAction } from "../hooks.js"
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
  /** The public fields of a live event. */
  readonly data?: Record<string, unknown>
}

const PAGE = 500
const ROW = 28

const fromEntry = (e: { seq: number; timestamp: string; action: string; resource: string; agent_name: string; hash: string; prev_hash: string }): Row => ({
  seq: e.seq, at: e.timestamp, type: e.action, stream: e.resource, actor: e.agent_name, hash: e.hash, prev_hash: e.prev_hash
})

/** Whether a row passes the filters (substring match, time from `since`). */
export const matches = (row: Row, f: { type: string; stream: string; actor: string; since: string }) =>
  row.type.includes(f.type) && row.stream.includes(f.stream) && row.actor.includes(f.actor) && (f.since === "" || row.at >= f.since)

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

const RecordPage = () => {
  const [rows, setRows] = useState<ReadonlyArray<Row>>([])
  const [oldest, setOldest] = useState<number | undefined>()
  const [filters, setFilters] = useState({ type: "", stream: "", actor: "", since: "" })
  const [selected, setSelected] = useState<Row | undefined>()
  const [scroll, setScroll] = useState({ top: 0, height: 600 })
  const viewport = useRef<HTMLDivElement>(null)

  const loadBefore = async (before: number) => {
    const from = Math.max(1, before - PAGE)
    const page = await call<{ entries: ReadonlyArray<Parameters<typeof fromEntry>[0]> }>("auditEntries", { query: { from_seq: from, to_seq: before - 1 } })
    const older = page.entries.map(fromEntry).reverse()
    setRows((current) => {
      const known = new Set(current.map((r) => r.seq))
      return [...current, ...older.filter((r) => !known.has(r.seq))]
    })
    setOldest(from)
  }

  useEffect(() => {
    // live first, so nothing appended while the first page loads is missed
    const source = new EventSource(urlOf("events"))
    source.onmessage = (message) => {
      const { type, seq, at, stream, actor, ...data } = JSON.parse(message.data) as Record<string, unknown>
      const row: Row = { seq: Number(seq), at: String(at), type: String(type), stream: String(stream), actor: String(actor), data }
      setRows((current) => (current.some((r) => r.seq === row.seq) ? current : [row, ...current]))
    }
    call<{ components: { state_store: { head_seq: number } } }>("status").then((s) => loadBefore(s.components.state_store.head_seq + 1))
    return () => source.close()
  }, [])

  useEffect(() => {
    const el = viewport.current
    if (el !== null) setScroll({ top: el.scrollTop, height: el.clientHeight })
  }, [])

  const shown = useMemo(() => rows.filter((r) => matches(r, filters)), [rows, filters])
  const { first, last } = visibleRange(scroll.top, scroll.height, ROW, shown.length)

  const select = async (row: Row) => {
    setSelected(row)
    if (row.hash === undefined) {
      const page = await call<{ entries: ReadonlyArray<Parameters<typeof fromEntry>[0]> }>("auditEntries", { query: { from_seq: row.seq, to_seq: row.seq } })
      const entry = page.entries[0]
      if (entry !== undefined) setSelected({ ...row, hash: entry.hash, prev_hash: entry.prev_hash })
    }
  }

  const field = (name: keyof typeof filters, label: string) => (
    <label>
      {label}
      <input value={filters[name]} onInput={(e) => setFilters({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value })} />
    </label>
  )

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
      <p class="muted" role="status">{t.record.count(shown.length, rows.length)}</p>
      <div class="record">
        <div class="viewport" ref={viewport} tabIndex={0} role="listbox" aria-label={t.record.title}
          onScroll={(e) => setScroll({ top: (e.currentTarget as HTMLDivElement).scrollTop, height: (e.currentTarget as HTMLDivElement).clientHeight })}>
          <div class="rows" style={{ height: `${shown.length * ROW}px` }}>
            {shown.slice(first, last).map((row, i) => (
              <button type="button" role="option" key={row.seq} class="event" aria-selected={selected?.seq === row.seq}
                style={{ transform: `translateY(${(first + i) * ROW}px)` }} onClick={() => select(row)}>
                <span class="seq">{row.seq}</span>
                <span class="type">{row.type}</span>
                <span class="muted stream">{row.stream}</span>
              </button>
            ))}
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
              {selected.data !== undefined && (<><dt>{t.record.data}</dt><dd><pre>{JSON.stringify(selected.data, null, 2)}</pre></dd></>)}
            </dl>
          )}
          {selected !== undefined && (
            <button type="button" class="quiet" onClick={() => setFilters({ type: "", stream: selected.stream, actor: "", since: "" })}>
              {t.record.historyOf(selected.stream)}
            </button>
          )}
        </aside>
      </div>
      {oldest !== undefined && oldest > 1 && <button type="button" class="quiet" onClick={() => loadBefore(oldest)}>{t.record.older}</button>}
    </section>
  )
}

export default RecordPage
