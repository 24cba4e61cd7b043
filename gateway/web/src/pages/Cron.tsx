/**
 * Cron jobs: create one (name, schedule, goal); each job with its next fire time and its past
 * runs, each with what became of its task; run it now, edit its schedule and goal, delete it.
 */
import { useState } from "preact/hooks"
import { call } from "../api.js"
import { useAction, useEvents, useLoad } from "../hooks.js"
import { t } from "../strings.js"

interface Job {
  readonly id: string
  readonly name: string
  readonly schedule: string
  readonly goal: string
  readonly last_run: string | null
  readonly last_success: boolean | null
  readonly next_run: string | null
}

interface Run {
  readonly task_id: string
  readonly seq: number
  readonly at: string
  readonly reason: "schedule" | "manual"
  readonly status: "queued" | "running" | "completed" | "failed" | "cancelled" | "not_submitted"
  readonly outcome: string | null
  readonly ended_at: string | null
}

/** Runs listed at first, and how many more each "Load more" shows. */
const RUNS_PAGE = 5

/** The events that change a job's runs (its firing, its task's start and end). */
const RUN_EVENTS = ["cron_triggered", "cron_run_failed", "task_started", "task_completed", "task_failed", "task_cancelled"]

const value = (e: Event) => (e.currentTarget as HTMLInputElement).value
const when = (iso: string | null) => (iso === null ? t.cron.never : new Date(iso).toLocaleString())

/** The fields of a job's form; `prefix` keeps the ids of several forms apart. */
const Fields = ({ prefix, job, set }: { readonly prefix: string; readonly job: { name: string; schedule: string; goal: string }; readonly set: (j: { name: string; schedule: string; goal: string }) => void }) => (
  <div class="form-grid">
    <label for={`${prefix}-name`}>{t.cron.name}</label>
    <input id={`${prefix}-name`} required value={job.name} onInput={(e) => set({ ...job, name: value(e) })} />
    <label for={`${prefix}-schedule`}>{t.cron.schedule}</label>
    <input id={`${prefix}-schedule`} required value={job.schedule} placeholder="0 0 9 * * *" onInput={(e) => set({ ...job, schedule: value(e) })} />
    <label for={`${prefix}-goal`}>{t.cron.goal}</label>
    <textarea id={`${prefix}-goal`} required rows={2} value={job.goal} onInput={(e) => set({ ...job, goal: value(e) })} />
  </div>
)

/** A job's past runs, newest first, from `GET /api/cron-jobs/{id}/runs`; read again when `tick` or the job's last run changes. */
const Runs = ({ job, tick }: { readonly job: Job; readonly tick: number }) => {
  const [limit, setLimit] = useState(RUNS_PAGE)
  const runs = useLoad(
    () => call<{ items: ReadonlyArray<Run>; total: number }>("cronRuns", { params: { id: job.id }, query: { limit } }),
    [job.id, limit, tick, job.last_run, job.last_success]
  )
  const heading = `runs-${job.id}`
  return (
    <section aria-labelledby={heading}>
      <h3 id={heading} class="small">{t.cron.runsOf(job.name, runs.data?.total)}</h3>
      {runs.error !== undefined && <p role="alert" class="error">{t.common.error(runs.error)}</p>}
      {runs.data !== undefined && runs.data.total === 0 && <p class="muted small">{t.cron.noRuns}</p>}
      <ol class="plain small">
        {runs.data?.items.map((r) => (
          <li key={r.task_id}>
            <span class={`badge run-${r.status}`}>{t.cron.runStatus[r.status]}</span> {when(r.at)} · {t.cron.reason[r.reason]} · <span class="muted">{t.cron.seq(r.seq)}</span>
            {r.outcome !== null && r.outcome !== "" && <span class="muted"> — {r.outcome}</span>}
          </li>
        ))}
      </ol>
      {runs.data !== undefined && runs.data.items.length < runs.data.total && (
        <div class="row"><button type="button" class="quiet" onClick={() => setLimit((n) => n + RUNS_PAGE)}>{t.cron.moreRuns(job.name)}</button></div>
      )}
    </section>
  )
}

const JobItem = ({ job, reload, say, tick }: { readonly job: Job; readonly reload: () => void; readonly say: (s: string) => void; readonly tick: number }) => {
  const [editing, setEditing] = useState<{ name: string; schedule: string; goal: string } | undefined>()
  const { busy, error, run } = useAction()
  const save = (event: Event) => {
    event.preventDefault()
    run(async () => {
      await call("editCronJob", { params: { id: job.id }, body: editing })
      setEditing(undefined)
      say(t.cron.updated(editing!.name))
      reload()
    })
  }
  return (
    <li class="stack">
      <div class="row">
        <span><strong>{job.name}</strong> <code>{job.schedule}</code></span>
        <span class="decide">
          <button type="button" disabled={busy} aria-label={t.cron.triggerOne(job.name)}
            onClick={() => run(async () => {
              const r = await call<{ success: boolean; summary: string }>("triggerCronJob", { params: { id: job.id } })
              say(t.cron.ran(job.name, r.success, r.summary))
              reload()
            })}>{t.cron.trigger}</button>
          <button type="button" class="quiet" aria-label={t.cron.editOne(job.name)} aria-expanded={editing !== undefined}
            onClick={() => setEditing(editing === undefined ? { name: job.name, schedule: job.schedule, goal: job.goal } : undefined)}>{t.cron.edit}</button>
          <button type="button" class="danger" aria-label={t.cron.deleteOne(job.name)}
            onClick={() => run(async () => {
              await call("deleteCronJob", { params: { id: job.id } })
              say(t.cron.deleted(job.name))
              reload()
            })}>{t.common.delete}</button>
        </span>
      </div>
      <p class="muted">{job.goal}</p>
      <p class="small">{t.cron.nextRun}: {when(job.next_run)} · {t.cron.lastRun}: {when(job.last_run)}{job.last_run === null ? "" : ` (${t.cron.outcome(job.last_success)})`}</p>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      <Runs job={job} tick={tick} />
      {editing !== undefined && (
        <form class="stack" onSubmit={save} aria-label={t.cron.editOne(job.name)}>
          <Fields prefix={`edit-${job.id}`} job={editing} set={setEditing} />
          <div class="row"><button type="submit" disabled={busy}>{t.common.save}</button></div>
        </form>
      )}
    </li>
  )
}

const CronPage = () => {
  const jobs = useLoad(() => call<{ jobs: ReadonlyArray<Job> }>("cronJobs"))
  const [tick, setTick] = useState(0)
  useEvents(RUN_EVENTS, () => {
    jobs.reload()
    setTick((n) => n + 1)
  })
  const [draft, setDraft] = useState({ name: "", schedule: "", goal: "" })
  const [done, setDone] = useState("")
  const { busy, error, run } = useAction()
  const create = (event: Event) => {
    event.preventDefault()
    run(async () => {
      const r = await call<{ id: string }>("createCronJob", { body: draft })
      setDraft({ name: "", schedule: "", goal: "" })
      setDone(t.cron.created(r.id))
      jobs.reload()
    })
  }
  return (
    <div class="stack page">
      <h1>{t.cron.title}</h1>
      <p class="muted">{t.cron.intro}</p>
      <form class="card stack" onSubmit={create} aria-labelledby="cron-create">
        <h2 id="cron-create">{t.cron.create}</h2>
        <Fields prefix="new" job={draft} set={setDraft} />
        <div class="row"><button type="submit" disabled={busy}>{t.cron.create}</button></div>
        {error !== undefined && <p role="alert" class="error">{error}</p>}
      </form>
      <p role="status" class="ok">{done}</p>
      <section aria-labelledby="cron-jobs">
        <h2 id="cron-jobs">{t.cron.jobs}</h2>
        {jobs.error !== undefined && <p role="alert" class="error">{t.common.error(jobs.error)}</p>}
        {jobs.data !== undefined && jobs.data.jobs.length === 0 && <p class="muted">{t.cron.noJobs}</p>}
        <ul class="plain">{jobs.data?.jobs.map((j) => <JobItem key={j.id} job={j} reload={jobs.reload} say={setDone} tick={tick} />)}</ul>
      </section>
    </div>
  )
}

export default CronPage
