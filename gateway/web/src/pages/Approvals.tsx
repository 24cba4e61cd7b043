/**
 * Approvals: the pending ones, each with its expiry counting down and approve / reject; the
 * history with the outcome and who decided (`system` for an expiry). Live from the record's
 * approval events.
 */
import { useState } from "preact/hooks"
import { call } from "../api.js"
import { useAction, useEvents, useLoad, useNow } from "../hooks.js"
import { t } from "../strings.js"
import { TableWrap } from "../ui.js"

interface Approval {
  readonly id: string
  readonly subject: string
  readonly action: string
  readonly resource: string
  readonly reason: string
  readonly created_at: string
  readonly status: "pending" | "approved" | "rejected" | "expired"
  readonly expires_at: string
  readonly resolved_at: string | null
  readonly resolved_by: string | null
}

/** Whole seconds from `now` until `iso`, never below 0. */
export const secondsLeft = (iso: string, now: number) => Math.max(0, Math.ceil((Date.parse(iso) - now) / 1000))

const Pending = ({ item, decide }: { readonly item: Approval; readonly decide: (item: Approval, approve: boolean) => void }) => {
  const now = useNow()
  return (
    <li class="approval-item">
      <div>
        <code>{item.action}</code> <code>{item.resource}</code>
        <div class="muted">{t.approvals.asks(item.subject)}{item.reason === "" ? "" : ` — ${item.reason}`}</div>
      </div>
      <div class="decide">
        <span class="badge">{t.approvals.expires(secondsLeft(item.expires_at, now))}</span>
        <button type="button" aria-label={t.approvals.approveOne(item.action, item.subject)} onClick={() => decide(item, true)}>{t.approvals.approve}</button>
        <button type="button" class="danger" aria-label={t.approvals.rejectOne(item.action, item.subject)} onClick={() => decide(item, false)}>{t.approvals.reject}</button>
      </div>
    </li>
  )
}

const ApprovalsPage = () => {
  const list = useLoad(() => call<ReadonlyArray<Approval>>("approvals", { query: { limit: 500 } }))
  useEvents(["approval_requested", "approval_resolved"], list.reload)
  const { error, run } = useAction()
  const [done, setDone] = useState("")
  const decide = (item: Approval, approve: boolean) =>
    run(async () => {
      const answer = await call<{ status: string }>(approve ? "approve" : "reject", { params: { id: item.id } })
      setDone(t.approvals.decided(answer.status))
      list.reload()
    })
  const pending = list.data?.filter((a) => a.status === "pending") ?? []
  const history = list.data?.filter((a) => a.status !== "pending") ?? []
  return (
    <div class="stack page">
      <h1>{t.approvals.title}</h1>
      <p class="muted">{t.approvals.intro}</p>
      <p role="status" class="ok">{done}</p>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      {list.error !== undefined && <p role="alert" class="error">{t.common.error(list.error)}</p>}
      <section aria-labelledby="pending">
        <h2 id="pending">{t.approvals.pending}</h2>
        {list.data !== undefined && pending.length === 0 && <p class="muted">{t.approvals.noPending}</p>}
        {pending.length > 0 && <ul class="plain">{pending.map((a) => <Pending key={a.id} item={a} decide={decide} />)}</ul>}
      </section>
      <section aria-labelledby="history">
        <h2 id="history">{t.approvals.history}</h2>
        {list.data !== undefined && history.length === 0 && <p class="muted">{t.approvals.noHistory}</p>}
        {history.length > 0 && (
          <TableWrap label={t.approvals.history}>
            <table>
              <thead><tr><th>{t.approvals.action}</th><th>{t.approvals.resource}</th><th>{t.approvals.outcome}</th><th>{t.approvals.who}</th><th>{t.approvals.decidedAt}</th></tr></thead>
              <tbody>
                {history.map((a) => (
                  <tr key={a.id}>
                    <td><code>{a.action}</code></td>
                    <td><code>{a.resource}</code></td>
                    <td><span class={`badge outcome-${a.status}`}>{a.status}</span></td>
                    <td>{a.resolved_by ?? ""}</td>
                    <td>{a.resolved_at === null ? "" : new Date(a.resolved_at).toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>
    </div>
  )
}

export default ApprovalsPage
