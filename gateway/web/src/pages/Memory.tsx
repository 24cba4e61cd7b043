/**
 * Memory: add an entry; search by keyword or by meaning, each semantic result with its cosine
 * similarity; the stored memories with their content, each deletable.
 */
import { useState } from "preact/hooks"
import { call } from "../api.js"
import { useAction, useEvents, useLoad } from "../hooks.js"
import { t } from "../strings.js"

interface Entry {
  readonly id: string
  readonly type: string
  readonly content: string
  readonly tags: ReadonlyArray<string>
  readonly importance: number
  readonly created_at: string
  readonly similarity?: number
}

/** "a, b ,, c" → ["a", "b", "c"]. */
export const parseTags = (text: string) => text.split(",").map((s) => s.trim()).filter((s) => s !== "")

const value = (e: Event) => (e.currentTarget as HTMLInputElement).value

const AddForm = ({ onStored }: { readonly onStored: () => void }) => {
  const [content, setContent] = useState("")
  const [type, setType] = useState("fact")
  const [tags, setTags] = useState("")
  const [importance, setImportance] = useState("0.5")
  const [done, setDone] = useState("")
  const { busy, error, run } = useAction()
  const submit = (event: Event) => {
    event.preventDefault()
    run(async () => {
      const answer = await call<{ id: string }>("addMemory", { body: { content, memory_type: type, tags: parseTags(tags), importance: Number(importance) } })
      setDone(t.memory.stored(answer.id))
      setContent("")
      setTags("")
      onStored()
    })
  }
  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="memory-add">
      <h2 id="memory-add">{t.memory.add}</h2>
      <label for="memory-content">{t.memory.content}</label>
      <textarea id="memory-content" rows={3} required value={content} onInput={(e) => setContent(value(e))} />
      <div class="form-grid">
        <label for="memory-type">{t.memory.type}</label>
        <select id="memory-type" value={type} onChange={(e) => setType(value(e))}>
          {Object.entries(t.memory.types).map(([k, label]) => <option key={k} value={k}>{label}</option>)}
        </select>
        <label for="memory-tags">{t.memory.tags}</label>
        <input id="memory-tags" value={tags} onInput={(e) => setTags(value(e))} />
        <label for="memory-importance">{t.memory.importance}</label>
        <input id="memory-importance" type="number" min="0" max="1" step="0.1" value={importance} onInput={(e) => setImportance(value(e))} />
      </div>
      <div class="row">
        <button type="submit" disabled={busy}>{t.memory.store}</button>
        <p role="status" class="ok">{done}</p>
      </div>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
    </form>
  )
}

const EntryItem = ({ entry, onDelete }: { readonly entry: Entry; readonly onDelete?: (id: string) => void }) => (
  <li class="memory-item">
    <div class="row">
      <span>
        <span class="badge">{entry.type}</span>
        {entry.similarity !== undefined && <strong class="similarity"> {t.memory.similarity(entry.similarity)}</strong>}
        {entry.tags.map((tag) => <span key={tag} class="badge muted"> {tag}</span>)}
      </span>
      {onDelete !== undefined && (
        <button type="button" class="quiet" aria-label={t.memory.deleteOne(entry.id)} onClick={() => onDelete(entry.id)}>{t.common.delete}</button>
      )}
    </div>
    <p>{entry.content}</p>
    <p class="muted small"><code>{entry.id}</code> · {new Date(entry.created_at).toLocaleString()}</p>
  </li>
)

const Search = () => {
  const [query, setQuery] = useState("")
  const [mode, setMode] = useState<"keyword" | "semantic">("semantic")
  const [found, setFound] = useState<ReadonlyArray<Entry> | undefined>()
  const { busy, error, run } = useAction()
  const submit = (event: Event) => {
    event.preventDefault()
    run(async () => {
      const answer = await call<{ entries: ReadonlyArray<Entry> }>(mode === "semantic" ? "semanticMemory" : "searchMemory", { body: { query, limit: 10 } })
      setFound(answer.entries)
    })
  }
  return (
    <section aria-labelledby="memory-search" class="card">
      <h2 id="memory-search">{t.memory.search}</h2>
      <form class="stack" onSubmit={submit} role="search" aria-label={t.memory.search}>
        <label for="memory-query">{t.memory.query}</label>
        <input id="memory-query" type="search" required value={query} onInput={(e) => setQuery(value(e))} />
        <fieldset class="row modes">
          <legend>{t.memory.mode}</legend>
          <label><input type="radio" name="mode" checked={mode === "semantic"} onChange={() => setMode("semantic")} /> {t.memory.semantic}</label>
          <label><input type="radio" name="mode" checked={mode === "keyword"} onChange={() => setMode("keyword")} /> {t.memory.keyword}</label>
          <button type="submit" disabled={busy}>{t.memory.search}</button>
        </fieldset>
      </form>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      <p role="status">{found === undefined ? "" : t.memory.results(found.length)}</p>
      {found !== undefined && found.length > 0 && <ol class="plain results">{found.map((e) => <EntryItem key={e.id} entry={e} />)}</ol>}
    </section>
  )
}

const MemoryPage = () => {
  const list = useLoad(async () => {
    const page = await call<{ items: ReadonlyArray<{ name: string }>; total: number }>("memory", { query: { limit: 50 } })
    const entries = await Promise.all(page.items.map((item) => call<Entry>("getMemory", { params: { name: item.name } })))
    return { entries, total: page.total }
  })
  useEvents(["memory_stored", "memory_deleted"], list.reload)
  const { error, run } = useAction()
  const [done, setDone] = useState("")
  const remove = (id: string) =>
    run(async () => {
      await call("deleteMemory", { params: { name: id } })
      setDone(t.memory.deleted(id))
      list.reload()
    })
  return (
    <div class="stack page">
      <h1>{t.memory.title}</h1>
      <p class="muted">{t.memory.intro}</p>
      <div class="two">
        <AddForm onStored={list.reload} />
        <Search />
      </div>
      <section aria-labelledby="memory-list">
        <h2 id="memory-list">{t.memory.list}</h2>
        <p role="status" class="ok">{done}</p>
        {error !== undefined && <p role="alert" class="error">{error}</p>}
        {list.error !== undefined && <p role="alert" class="error">{t.common.error(list.error)}</p>}
        {list.data !== undefined && list.data.entries.length === 0 && <p class="muted">{t.memory.noMemories}</p>}
        {list.data !== undefined && list.data.entries.length > 0 && (
          <>
            <p class="muted">{t.memory.total(list.data.entries.length, list.data.total)}</p>
            <ul class="plain">{list.data.entries.map((e) => <EntryItem key={e.id} entry={e} onDelete={remove} />)}</ul>
          </>
        )}
      </section>
    </div>
  )
}

export default MemoryPage
