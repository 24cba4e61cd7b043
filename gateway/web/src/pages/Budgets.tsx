/**
 * Budgets and permissions of one agent: its usage against its allocation (tokens, calls, the
 * window) with setting and resetting it; and an editor for its allowed tools and paths.
 */
import { useState } from "preact/hooks"
import { ApiError, call } from "../api.js"
import { useAction, useLoad } from "../hooks.js"
import { t } from "../strings.js"

interface Budget {
  readonly tokens_remaining: number
  readonly calls_remaining: number
  readonly window_remaining_secs: number
  readonly is_exhausted: boolean
}
interface Permissions {
  readonly allowed_tools: ReadonlyArray<string>
  readonly allowed_paths: ReadonlyArray<string>
  readonly denied_paths: ReadonlyArray<string>
  readonly network_access: boolean
  readonly can_fork: boolean
}

/** A list typed as text: split on commas or new lines, blanks dropped. */
export const listOf = (text: string) => text.split(/[,\n]/).map((s) => s.trim()).filter((s) => s !== "")

/** A 404 is "none yet" (undefined); anything else is an error. */
const orNone = <A,>(promise: Promise<A>) => promise.catch((e: unknown) => (e instanceof ApiError && e.status === 404 ? undefined : Promise.reject(e)))
const value = (e: Event) => (e.currentTarget as HTMLInputElement).value

const BudgetPanel = ({ agent }: { readonly agent: string }) => {
  const budget = useLoad(() => orNone(call<Budget>("budget", { params: { agent_id: agent } })), [agent])
  const [form, setForm] = useState({ tokens: "100000", calls: "100", window: "3600" })
  const [done, setDone] = useState("")
  const { busy, error, run } = useAction()
  const set = (event: Event) => {
    event.preventDefault()
    run(async () => {
      await call("setBudget", { params: { agent_id: agent }, body: { token_budget: Number(form.tokens), calls_budget: Number(form.calls), window_secs: Number(form.window) } })
      setDone(t.budgets.budgetSet)
      budget.reload()
    })
  }
  return (
    <section class="card stack" aria-labelledby="bd-budget">
      <h2 id="bd-budget">{t.budgets.budget}</h2>
      {budget.error !== undefined && <p role="alert" class="error">{t.common.error(budget.error)}</p>}
      {budget.data === undefined && !budget.loading && budget.error === undefined && <p class="muted">{t.budgets.noBudget}</p>}
      {budget.data !== undefined && (
        <div class="row">
          <p>
            {t.budgets.tokens}: <strong>{budget.data.tokens_remaining}</strong> · {t.budgets.calls}: <strong>{budget.data.calls_remaining}</strong> ·{" "}
            {t.budgets.window(budget.data.window_remaining_secs)} {budget.data.is_exhausted && <span class="badge error">{t.budgets.exhausted}</span>}
          </p>
          <button type="button" class="quiet" disabled={busy} onClick={() => run(async () => {
            await call("resetBudget", { params: { agent_id: agent } })
            setDone(t.budgets.budgetReset)
            budget.reload()
          })}>{t.budgets.reset}</button>
        </div>
      )}
      <form class="stack" onSubmit={set} aria-label={t.budgets.setBudget}>
        <div class="form-grid">
          <label for="bd-tokens">{t.budgets.tokenBudget}</label>
          <input id="bd-tokens" inputMode="numeric" required value={form.tokens} onInput={(e) => setForm({ ...form, tokens: value(e) })} />
          <label for="bd-calls">{t.budgets.callsBudget}</label>
          <input id="bd-calls" inputMode="numeric" required value={form.calls} onInput={(e) => setForm({ ...form, calls: value(e) })} />
          <label for="bd-window">{t.budgets.windowSecs}</label>
          <input id="bd-window" inputMode="numeric" required value={form.window} onInput={(e) => setForm({ ...form, window: value(e) })} />
        </div>
        <div class="row"><button type="submit" disabled={busy}>{t.budgets.setBudget}</button><p role="status" class="ok">{done}</p></div>
        {error !== undefined && <p role="alert" class="error">{error}</p>}
      </form>
    </section>
  )
}

const PermissionsPanel = ({ agent }: { readonly agent: string }) => {
  const [draft, setDraft] = useState<{ tools: string; allowed: string; denied: string; network: boolean; fork: boolean } | undefined>()
  const [known, setKnown] = useState(true)
  const perms = useLoad(async () => {
    const p = await orNone(call<Permissions>("permissions", { params: { agent } }))
    setKnown(p !== undefined)
    setDraft({
      tools: (p?.allowed_tools ?? []).join(", "),
      allowed: (p?.allowed_paths ?? []).join("\n"),
      denied: (p?.denied_paths ?? []).join("\n"),
      network: p?.network_access ?? false,
      fork: p?.can_fork ?? false
    })
    return p
  }, [agent])
  const [done, setDone] = useState("")
  const { busy, error, run } = useAction()
  const save = (event: Event) => {
    event.preventDefault()
    run(async () => {
      await call("putPermissions", {
        params: { agent },
        body: { allowed_tools: listOf(draft!.tools), allowed_paths: listOf(draft!.allowed), denied_paths: listOf(draft!.denied), network_access: draft!.network, can_fork: draft!.fork }
      })
      setDone(t.budgets.permissionsSaved)
      perms.reload()
    })
  }
  return (
    <section class="card stack" aria-labelledby="bd-perms">
      <h2 id="bd-perms">{t.budgets.permissions}</h2>
      {perms.error !== undefined && <p role="alert" class="error">{t.common.error(perms.error)}</p>}
      {!known && <p class="muted">{t.budgets.noPermissions}</p>}
      {draft !== undefined && (
        <form class="stack" onSubmit={save} aria-label={t.budgets.permissions}>
          <label for="bd-tools">{t.budgets.allowedTools}</label>
          <input id="bd-tools" value={draft.tools} onInput={(e) => setDraft({ ...draft, tools: value(e) })} />
          <label for="bd-allowed">{t.budgets.allowedPaths} <span class="muted small">({t.budgets.onePerLine})</span></label>
          <textarea id="bd-allowed" rows={3} value={draft.allowed} onInput={(e) => setDraft({ ...draft, allowed: value(e) })} />
          <label for="bd-denied">{t.budgets.deniedPaths} <span class="muted small">({t.budgets.onePerLine})</span></label>
          <textarea id="bd-denied" rows={3} value={draft.denied} onInput={(e) => setDraft({ ...draft, denied: value(e) })} />
          <label><input type="checkbox" checked={draft.network} onChange={(e) => setDraft({ ...draft, network: (e.currentTarget as HTMLInputElement).checked })} /> {t.budgets.network}</label>
          <label><input type="checkbox" checked={draft.fork} onChange={(e) => setDraft({ ...draft, fork: (e.currentTarget as HTMLInputElement).checked })} /> {t.budgets.canFork}</label>
          <div class="row"><button type="submit" disabled={busy}>{t.budgets.savePermissions}</button><p role="status" class="ok">{done}</p></div>
          {error !== undefined && <p role="alert" class="error">{error}</p>}
        </form>
      )}
    </section>
  )
}

const BudgetsPage = () => {
  const [text, setText] = useState("")
  const [agent, setAgent] = useState<string | undefined>()
  return (
    <div class="stack page">
      <h1>{t.budgets.title}</h1>
      <p class="muted">{t.budgets.intro}</p>
      <form class="row create" onSubmit={(e) => { e.preventDefault(); setAgent(text.trim()) }}>
        <label for="bd-agent">{t.budgets.agent}</label>
        <input id="bd-agent" required value={text} onInput={(e) => setText(value(e))} />
        <button type="submit">{t.budgets.load}</button>
      </form>
      {agent !== undefined && agent !== "" && (
        <div class="two">
          <BudgetPanel key={`b-${agent}`} agent={agent} />
          <PermissionsPanel key={`p-${agent}`} agent={agent} />
        </div>
      )}
    </div>
  )
}

export default BudgetsPage
