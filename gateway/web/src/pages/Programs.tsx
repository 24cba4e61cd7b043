/**
 * Programs: install one from a URL; the installed ones, each enabled or disabled, opening onto
 * its tools with their argument schemas and its host requirements; uninstall.
 */
import { useState } from "preact/hooks"
import { call } from "../api.js"
import { useAction, useLoad } from "../hooks.js"
import { t } from "../strings.js"
import { TableWrap } from "../ui.js"

interface Summary {
  readonly name: string
  readonly version: string
  readonly description: string
  readonly enabled: boolean
  readonly tools_count: number
}
interface Tool {
  readonly name: string
  readonly description: string
  readonly tool_name: string
  readonly runnable: boolean
  readonly reason: string | null
  readonly arguments: ReadonlyArray<{ readonly name: string; readonly description: string; readonly type: string; readonly required: boolean; readonly default?: unknown; readonly enum?: ReadonlyArray<string> }>
}
interface Detail extends Summary {
  readonly tools: ReadonlyArray<Tool>
  readonly offered: boolean
  readonly not_offered_reason: string | null
}
interface Host {
  readonly all_required_present: boolean
  readonly missing_required: ReadonlyArray<string>
}

const Details = ({ name }: { readonly name: string }) => {
  const data = useLoad(() => Promise.all([call<Detail>("program", { params: { name } }), call<Host>("hostRequirements", { params: { name } })]), [name])
  if (data.error !== undefined) return <p role="alert" class="error">{data.error}</p>
  if (data.data === undefined) return <p aria-busy="true">{t.common.loading}</p>
  const [detail, host] = data.data
  return (
    <div class="stack">
      {!detail.offered && detail.not_offered_reason !== null && <p class="error">{t.programs.notOffered(detail.not_offered_reason)}</p>}
      <p>{t.programs.host}: {host.all_required_present ? t.programs.allPresent : t.programs.missing(host.missing_required.join(", "))}</p>
      <h3>{t.programs.toolsOf(name)}</h3>
      {detail.tools.map((tool) => (
        <div key={tool.name} class="tool-schema">
          <p><code>{tool.name}</code> — {tool.description} <span class="muted small">({t.programs.callAs(tool.tool_name)}{tool.runnable ? "" : `; ${t.programs.notRunnable(tool.reason ?? "")}`})</span></p>
          {tool.arguments.length > 0 && (
            <TableWrap label={tool.name}>
              <table>
                <thead><tr><th>{t.programs.argument}</th><th>{t.programs.type}</th><th>{t.programs.required}</th><th>{t.programs.description}</th></tr></thead>
                <tbody>
                  {tool.arguments.map((a) => (
                    <tr key={a.name}>
                      <td><code>{a.name}</code></td>
                      <td>{a.type}{a.enum === undefined ? "" : ` (${a.enum.join(" | ")})`}</td>
                      <td>{a.required ? t.common.yes : a.default === undefined ? t.common.no : `${t.common.no} (${JSON.stringify(a.default)})`}</td>
                      <td>{a.description}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
        </div>
      ))}
    </div>
  )
}

const ProgramsPage = () => {
  const list = useLoad(() => call<{ items: ReadonlyArray<Summary> }>("programs", { query: { limit: 500 } }))
  const [url, setUrl] = useState("")
  const [done, setDone] = useState("")
  const [open, setOpen] = useState<string | undefined>()
  const { busy, error, run } = useAction()
  const install = (event: Event) => {
    event.preventDefault()
    run(async () => {
      const r = await call<{ name: string }>("installProgram", { body: { path: url.trim() } })
      setUrl("")
      setDone(t.programs.installed(r.name))
      setOpen(r.name)
      list.reload()
    })
  }
  const act = (endpoint: "enableProgram" | "disableProgram" | "uninstallProgram", name: string, message?: string) =>
    run(async () => {
      await call(endpoint, { params: { name } })
      if (message !== undefined) setDone(message)
      list.reload()
    })
  return (
    <div class="stack page">
      <h1>{t.programs.title}</h1>
      <p class="muted">{t.programs.intro}</p>
      <form class="card stack" onSubmit={install} aria-labelledby="pg-install">
        <h2 id="pg-install">{t.programs.install}</h2>
        <label for="pg-url">{t.programs.url}</label>
        <div class="row create">
          <input id="pg-url" required value={url} onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit" disabled={busy}>{busy ? t.programs.installing : t.programs.install}</button>
        </div>
      </form>
      <p role="status" class="ok">{done}</p>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      <section aria-labelledby="pg-list">
        <h2 id="pg-list">{t.programs.list}</h2>
        {list.error !== undefined && <p role="alert" class="error">{t.common.error(list.error)}</p>}
        {list.data !== undefined && list.data.items.length === 0 && <p class="muted">{t.programs.none}</p>}
        <ul class="plain">
          {list.data?.items.map((p) => (
            <li key={p.name} class="stack">
              <div class="row">
                <span><strong>{p.name}</strong> {p.version} <span class="badge">{p.enabled ? t.programs.enabled : t.programs.disabled}</span></span>
                <span class="decide">
                  <button type="button" class="quiet" aria-expanded={open === p.name} onClick={() => setOpen(open === p.name ? undefined : p.name)}>{t.programs.detailsOf(p.name, p.version, p.tools_count)}</button>
                  {p.enabled
                    ? <button type="button" class="quiet" aria-label={t.programs.disableOne(p.name)} onClick={() => act("disableProgram", p.name)}>{t.programs.disable}</button>
                    : <button type="button" aria-label={t.programs.enableOne(p.name)} onClick={() => act("enableProgram", p.name)}>{t.programs.enable}</button>}
                  <button type="button" class="danger" aria-label={t.programs.uninstallOne(p.name)} onClick={() => act("uninstallProgram", p.name, t.programs.uninstalled(p.name))}>{t.programs.uninstall}</button>
                </span>
              </div>
              <p class="muted">{p.description}</p>
              {open === p.name && <Details name={p.name} />}
            </li>
          ))}
        </ul>
      </section>
    </div>
  )
}

export default ProgramsPage
