/**
 * Settings: the configuration from `GET /api/config`, a form per section with a field per
 * setting (nested settings by their dotted name). Saving sends only what changed
 * (`PUT /api/config` takes any part); the server validates, and its error — which names the
 * field (`"approvals.timeout_secs" …`) — is shown beside that field.
 */
import { useState } from "preact/hooks"
import { ApiError, call } from "../api.js"
import { useLoad } from "../hooks.js"
import { t } from "../strings.js"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

/** A section's settings as [dotted name, value] pairs; arrays stay whole (edited as JSON). */
export const flatten = (value: Json, prefix: string): ReadonlyArray<readonly [string, Json]> =>
  value !== null && typeof value === "object" && !Array.isArray(value)
    ? Object.entries(value as Record<string, Json>).flatMap(([k, v]) => flatten(v, `${prefix}.${k}`))
    : [[prefix, value]]

/** The patch that sets each dotted name to its value: `{"a.b": 1}` → `{a: {b: 1}}`. */
export const patchOf = (changes: Readonly<Record<string, Json>>): Record<string, any> => {
  const patch: Record<string, any> = {}
  for (const [name, value] of Object.entries(changes)) {
    const parts = name.split(".")
    let at = patch
    for (const part of parts.slice(0, -1)) at = at[part] ??= {}
    at[parts[parts.length - 1]!] = value
  }
  return patch
}

/** The setting a server error names (the longest quoted dotted name it contains that is one of `names`). */
export const fieldOfError = (message: string, names: ReadonlyArray<string>): string | undefined =>
  names.filter((n) => message.includes(`"${n}"`)).sort((a, b) => b.length - a.length)[0]

/** What a field's text means as its setting's value, by the kind of the value it had. */
const parse = (text: string, was: Json, name: string): Json => {
  if (typeof was === "number") return text.trim() === "" ? null : Number(text)
  if (typeof was === "string") return text
  if (was === null) return text === "" ? null : text
  try {
    return JSON.parse(text) as Json
  } catch {
    throw new Error(t.settings.notJson(name))
  }
}
const show = (value: Json) => (typeof value === "string" ? value : value === null ? "" : typeof value === "number" ? String(value) : JSON.stringify(value))
const idOf = (name: string) => `cfg-${name.replace(/[^\w-]/g, "_")}`

const Section = ({ name, value, onSaved }: { readonly name: string; readonly value: Json; readonly onSaved: () => void }) => {
  const fields = flatten(value, name)
  const [edits, setEdits] = useState<Record<string, string | boolean>>({})
  const [error, setError] = useState<{ field: string | undefined; message: string } | undefined>()
  const [done, setDone] = useState("")
  const [busy, setBusy] = useState(false)
  const save = async (event: Event) => {
    event.preventDefault()
    setError(undefined)
    setDone("")
    setBusy(true)
    try {
      const changes: Record<string, Json> = {}
      for (const [field, was] of fields) {
        const edit = edits[field]
        if (edit === undefined) continue
        const now = typeof edit === "boolean" ? edit : parse(edit, was, field)
        if (JSON.stringify(now) !== JSON.stringify(was)) changes[field] = now
      }
      if (Object.keys(changes).length === 0) {
        setDone(t.settings.unchanged)
        return
      }
      await call("putConfig", { body: patchOf(changes) })
      setEdits({})
      setDone(t.settings.savedSection(name))
      onSaved()
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      setError({ field: e instanceof ApiError || e instanceof Error ? fieldOfError(message, fields.map(([f]) => f)) : undefined, message })
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="card stack" onSubmit={save} aria-labelledby={`${idOf(name)}-title`}>
      <h2 id={`${idOf(name)}-title`}>{name}</h2>
      <div class="form-grid">
        {fields.map(([field, was]) => {
          const id = idOf(field)
          const invalid = error?.field === field
          const edit = edits[field]
          return (
            <div key={field} class="setting">
              <label for={id}>{field.slice(name.length + 1)}</label>
              {typeof was === "boolean" ? (
                <input id={id} type="checkbox" checked={typeof edit === "boolean" ? edit : was} aria-invalid={invalid}
                  aria-describedby={invalid ? `${id}-error` : undefined}
                  onChange={(e) => setEdits({ ...edits, [field]: (e.currentTarget as HTMLInputElement).checked })} />
              ) : (
                <input id={id} inputMode={typeof was === "number" ? "decimal" : "text"} value={typeof edit === "string" ? edit : show(was)}
                  aria-invalid={invalid} aria-describedby={invalid ? `${id}-error` : undefined}
                  onInput={(e) => setEdits({ ...edits, [field]: (e.currentTarget as HTMLInputElement).value })} />
              )}
              {invalid && <p id={`${id}-error`} class="field-error" role="alert">{error!.message}</p>}
            </div>
          )
        })}
      </div>
      {error !== undefined && error.field === undefined && <p role="alert" class="error">{t.settings.invalid} {error.message}</p>}
      <div class="row">
        <button type="submit" disabled={busy}>{t.settings.save(name)}</button>
        <p role="status" class="ok">{done}</p>
      </div>
    </form>
  )
}

const SettingsPage = () => {
  const config = useLoad(() => call<Record<string, Json>>("config"))
  return (
    <div class="stack page">
      <h1>{t.settings.title}</h1>
      <p class="muted">{t.settings.intro}</p>
      {config.error !== undefined && <p role="alert" class="error">{t.common.error(config.error)}</p>}
      {config.data !== undefined && Object.entries(config.data).map(([name, value]) => <Section key={name} name={name} value={value} onSaved={config.reload} />)}
    </div>
  )
}

export default SettingsPage
