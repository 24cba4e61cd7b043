/**
 * Workspace: the file tree (a directory at a time), a text file viewed and edited (each save is a
 * commit), the file's git history (`GET /api/git/log?path=`), a past version viewed
 * (`GET /api/git/show`) and restored (`POST /api/git/restore`).
 */
import { useEffect, useState } from "preact/hooks"
import { call } from "../api.js"
import { useAction, useLoad } from "../hooks.js"
import { t } from "../strings.js"

interface Entry {
  readonly name: string
  readonly is_dir: boolean
  readonly size: number
}
interface Commit {
  readonly hash: string
  readonly author: string
  readonly message: string
  readonly timestamp: string
}

/** The directory above `dir` ("" is the root). */
export const parentOf = (dir: string) => (dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : "")

const join = (dir: string, name: string) => (dir === "" ? name : `${dir}/${name}`)
const value = (e: Event) => (e.currentTarget as HTMLInputElement).value

const Tree = ({ dir, setDir, open, tick }: { readonly dir: string; readonly setDir: (d: string) => void; readonly open: (p: string) => void; readonly tick: number }) => {
  const entries = useLoad(() => call<ReadonlyArray<Entry>>("tree", { query: { dir } }), [dir, tick])
  return (
    <nav aria-labelledby="ws-tree" class="card tree">
      <h2 id="ws-tree">{t.workspace.tree}</h2>
      <p><code>{dir === "" ? t.workspace.root : `${dir}/`}</code></p>
      {entries.error !== undefined && <p role="alert" class="error">{t.common.error(entries.error)}</p>}
      <ul class="plain">
        {dir !== "" && <li><button type="button" class="quiet" onClick={() => setDir(parentOf(dir))}>{t.workspace.up}</button></li>}
        {entries.data?.map((e) => (
          <li key={e.name}>
            {e.is_dir ? (
              <button type="button" class="link" aria-label={t.workspace.openDir(e.name)} onClick={() => setDir(join(dir, e.name))}>{e.name}/</button>
            ) : (
              <button type="button" class="link" aria-label={t.workspace.open(e.name)} onClick={() => open(join(dir, e.name))}>
                {e.name} <span class="muted small">{t.workspace.size(e.size)}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
      {entries.data !== undefined && entries.data.length === 0 && <p class="muted">{t.workspace.empty}</p>}
    </nav>
  )
}

const Editor = ({ path, onSaved }: { readonly path: string; readonly onSaved: () => void }) => {
  const [text, setText] = useState<string | undefined>()
  const [done, setDone] = useState("")
  const [tick, setTick] = useState(0)
  const { busy, error, run } = useAction()
  const history = useLoad(() => call<{ entries: ReadonlyArray<Commit> }>("gitLog", { query: { path } }), [path, tick])
  // the past version on view: its commit and its text (or why there is none)
  const [shown, setShown] = useState<{ readonly hash: string; readonly text?: string; readonly error?: string } | undefined>()
  const view = (hash: string) => {
    setShown({ hash })
    call<string>("gitShow", { query: { hash, path }, text: true }).then(
      (text) => setShown((s) => (s?.hash === hash ? { hash, text } : s)),
      (e: unknown) => setShown((s) => (s?.hash === hash ? { hash, error: e instanceof Error ? e.message : String(e) } : s))
    )
  }
  useEffect(() => {
    setText(undefined)
    setDone("")
    call<string>("readFile", { params: { path }, text: true }).then(setText, () => setText(""))
  }, [path])
  const save = (event: Event) => {
    event.preventDefault()
    run(async () => {
      await call("writeFile", { params: { path }, body: text ?? "" })
      setDone(t.workspace.saved)
      setTick((n) => n + 1)
      onSaved()
    })
  }
  const restore = (hash: string) =>
    run(async () => {
      await call("gitRestore", { body: { hash, path } })
      setText(await call<string>("readFile", { params: { path }, text: true }))
      setDone(t.workspace.restored(hash.slice(0, 12)))
      setShown(undefined)
      setTick((n) => n + 1)
      onSaved()
    })
  const commits = history.data?.entries ?? []
  return (
    <div class="stack">
      <form class="card stack" onSubmit={save}>
        <label for="ws-editor">{t.workspace.editor(path)}</label>
        <textarea id="ws-editor" class="code" rows={14} value={text ?? ""} disabled={text === undefined} onInput={(e) => setText(value(e))} />
        <div class="row">
          <button type="submit" disabled={busy || text === undefined}>{t.workspace.save}</button>
          <p role="status" class="ok">{done}</p>
        </div>
        {error !== undefined && <p role="alert" class="error">{error}</p>}
      </form>
      <section class="card" aria-labelledby="ws-history">
        <h2 id="ws-history">{t.workspace.history(path)}</h2>
        {history.data !== undefined && commits.length === 0 && <p class="muted">{t.workspace.noHistory}</p>}
        <ol class="plain">
          {commits.map((c, i) => (
            <li key={c.hash} class="row">
              <span><code>{c.hash.slice(0, 12)}</code> {c.message} <span class="muted small">{new Date(c.timestamp).toLocaleString()} · {c.author}</span></span>
              <span class="decide">
                <button type="button" class="quiet" aria-label={t.workspace.viewOne(c.hash.slice(0, 12))} aria-pressed={shown?.hash === c.hash}
                  onClick={() => (shown?.hash === c.hash ? setShown(undefined) : view(c.hash))}>{t.workspace.view}</button>
                {i > 0 && <button type="button" class="quiet" aria-label={t.workspace.restoreOne(c.hash.slice(0, 12))} onClick={() => restore(c.hash)}>{t.workspace.restore}</button>}
              </span>
            </li>
          ))}
        </ol>
      </section>
      {shown !== undefined && (
        <section class="card" aria-labelledby="ws-version">
          <h2 id="ws-version">{t.workspace.version(path, shown.hash.slice(0, 12))}</h2>
          {shown.error !== undefined && <p role="alert" class="error">{shown.error}</p>}
          {shown.text === undefined && shown.error === undefined && <p class="muted">{t.common.loading}</p>}
          {shown.text !== undefined && <pre class="code version" tabIndex={0} aria-label={t.workspace.versionText(path, shown.hash.slice(0, 12))}>{shown.text}</pre>}
          <div class="row">
            {shown.text !== undefined && commits[0]?.hash !== shown.hash && (
              <button type="button" onClick={() => restore(shown.hash)}>{t.workspace.restore}</button>
            )}
            <button type="button" class="quiet" onClick={() => setShown(undefined)}>{t.common.close}</button>
          </div>
        </section>
      )}
    </div>
  )
}

const WorkspacePage = () => {
  const [dir, setDir] = useState("")
  const [path, setPath] = useState<string | undefined>()
  const [newPath, setNewPath] = useState("")
  const [tick, setTick] = useState(0)
  const { error, run } = useAction()
  const create = (event: Event) => {
    event.preventDefault()
    const target = newPath.trim().replace(/^\/+/, "")
    run(async () => {
      await call("writeFile", { params: { path: target }, body: "" })
      setNewPath("")
      setDir(parentOf(target))
      setPath(target)
      setTick((n) => n + 1)
    })
  }
  return (
    <div class="stack page">
      <h1>{t.workspace.title}</h1>
      <p class="muted">{t.workspace.intro}</p>
      <form class="row create" onSubmit={create}>
        <label for="ws-new">{t.workspace.newFile}</label>
        <input id="ws-new" required value={newPath} onInput={(e) => setNewPath(value(e))} />
        <button type="submit">{t.workspace.create}</button>
      </form>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      <div class="workspace">
        <Tree dir={dir} setDir={setDir} open={setPath} tick={tick} />
        {path === undefined ? <p class="muted">{t.workspace.pick}</p> : <Editor key={path} path={path} onSaved={() => setTick((n) => n + 1)} />}
      </div>
    </div>
  )
}

export default WorkspacePage
