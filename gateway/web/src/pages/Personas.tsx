/**
 * Personas and skills: the personas with the active one marked, another activated or added; the
 * skills, added (name, description, Markdown content) and deleted.
 */
import { useState } from "preact/hooks"
import { call } from "../api.js"
import { useAction, useLoad } from "../hooks.js"
import { t } from "../strings.js"

interface Persona {
  readonly id: string
  readonly name: string
  readonly role: string
  readonly description: string
  readonly active: boolean
}
interface Skill {
  readonly name: string
  readonly description: string
}

const value = (e: Event) => (e.currentTarget as HTMLInputElement).value

const Personas = () => {
  const list = useLoad(() => call<ReadonlyArray<Persona>>("personas"))
  const [draft, setDraft] = useState({ name: "", role: "", description: "", system_prompt: "" })
  const [done, setDone] = useState("")
  const { busy, error, run } = useAction()
  const create = (event: Event) => {
    event.preventDefault()
    run(async () => {
      await call("createPersona", { body: draft })
      setDone(t.personas.created(draft.name))
      setDraft({ name: "", role: "", description: "", system_prompt: "" })
      list.reload()
    })
  }
  return (
    <section class="card stack" aria-labelledby="ps-personas">
      <h2 id="ps-personas">{t.personas.personas}</h2>
      {list.error !== undefined && <p role="alert" class="error">{t.common.error(list.error)}</p>}
      <ul class="plain">
        {list.data?.map((p) => (
          <li key={p.id} class="row">
            <span><strong>{p.name}</strong> <span class="muted">{p.role}</span> {p.active && <span class="badge ok">{t.personas.active}</span>}
              <span class="muted small"> {p.description}</span></span>
            {!p.active && (
              <button type="button" class="quiet" disabled={busy} aria-label={t.personas.activateOne(p.name)} onClick={() => run(async () => {
                await call("activatePersona", { body: { id: p.id } })
                setDone(t.personas.activated(p.name))
                list.reload()
              })}>{t.personas.activate}</button>
            )}
          </li>
        ))}
      </ul>
      <p role="status" class="ok">{done}</p>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      <form class="stack" onSubmit={create} aria-label={t.personas.newPersona}>
        <h3>{t.personas.newPersona}</h3>
        <div class="form-grid">
          <label for="ps-name">{t.personas.name}</label>
          <input id="ps-name" required value={draft.name} onInput={(e) => setDraft({ ...draft, name: value(e) })} />
          <label for="ps-role">{t.personas.role}</label>
          <input id="ps-role" value={draft.role} onInput={(e) => setDraft({ ...draft, role: value(e) })} />
          <label for="ps-description">{t.personas.description}</label>
          <input id="ps-description" value={draft.description} onInput={(e) => setDraft({ ...draft, description: value(e) })} />
          <label for="ps-prompt">{t.personas.systemPrompt}</label>
          <textarea id="ps-prompt" rows={3} value={draft.system_prompt} onInput={(e) => setDraft({ ...draft, system_prompt: value(e) })} />
        </div>
        <div class="row"><button type="submit" disabled={busy}>{t.personas.add}</button></div>
      </form>
    </section>
  )
}

const Skills = () => {
  const list = useLoad(() => call<{ items: ReadonlyArray<Skill> }>("skills", { query: { limit: 500 } }))
  const [draft, setDraft] = useState({ name: "", description: "", content: "" })
  const [done, setDone] = useState("")
  const { busy, error, run } = useAction()
  const create = (event: Event) => {
    event.preventDefault()
    run(async () => {
      await call("createSkill", { body: draft })
      setDone(t.personas.created(draft.name))
      setDraft({ name: "", description: "", content: "" })
      list.reload()
    })
  }
  return (
    <section class="card stack" aria-labelledby="ps-skills">
      <h2 id="ps-skills">{t.personas.skills}</h2>
      {list.error !== undefined && <p role="alert" class="error">{t.common.error(list.error)}</p>}
      {list.data !== undefined && list.data.items.length === 0 && <p class="muted">{t.personas.noSkills}</p>}
      <ul class="plain">
        {list.data?.items.map((s) => (
          <li key={s.name} class="row">
            <span><code>{s.name}</code> <span class="muted">{s.description}</span></span>
            <button type="button" class="quiet" disabled={busy} aria-label={t.personas.deleteSkill(s.name)} onClick={() => run(async () => {
              await call("deleteSkill", { params: { name: s.name } })
              setDone(t.personas.deleted(s.name))
              list.reload()
            })}>{t.common.delete}</button>
          </li>
        ))}
      </ul>
      <p role="status" class="ok">{done}</p>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      <form class="stack" onSubmit={create} aria-label={t.personas.newSkill}>
        <h3>{t.personas.newSkill}</h3>
        <label for="sk-name">{t.personas.skillName}</label>
        <input id="sk-name" required value={draft.name} onInput={(e) => setDraft({ ...draft, name: value(e) })} />
        <label for="sk-description">{t.personas.description}</label>
        <input id="sk-description" value={draft.description} onInput={(e) => setDraft({ ...draft, description: value(e) })} />
        <label for="sk-content">{t.personas.content}</label>
        <textarea id="sk-content" rows={4} value={draft.content} onInput={(e) => setDraft({ ...draft, content: value(e) })} />
        <div class="row"><button type="submit" disabled={busy}>{t.personas.add}</button></div>
      </form>
    </section>
  )
}

const PersonasPage = () => (
  <div class="stack page">
    <h1>{t.personas.title}</h1>
    <p class="muted">{t.personas.intro}</p>
    <div class="two">
      <Personas />
      <Skills />
    </div>
  </div>
)

export default PersonasPage
