/**
 * Agents: every agent instance with its status, kept live by the record's agent events (each one
 * reloads the list), and a kill button for the ones still alive; the scheduler's queue and
 * running tasks; agent groups, each opening onto its members.
 */
import { useState } from "preact/hooks"
import { call } from "../api.js"
import { useAction, useEvents, useLoad } from "../hooks.js"
import { t } from "../strings.js"
import { TableWrap } from "../ui.js"

interface Agent {
  readonly id: string
  readonly name: string
  readonly status: "Starting" | "Running" | "Idle" | "Failed" | "Stopped"
  readonly created_at: string
  readonly seed_id: string | null
}
interface Task {
  readonly id: string
  readonly description: string
  readonly priority: string
  readonly status: string
  readonly created_at: string
  readonly started_at: string | null
  readonly source: { readonly kind: string; readonly id: string | null }
}
interface Stats {
  readonly queued: number
  readonly running: number
  readonly max_concurrent: number
  readonly rate_limit_per_minute: number
  readonly rate_remaining: number
}
interface GroupSummary {
  readonly id: string
  readonly name: string
  readonly agent_count: number
  readonly status: string
  readonly created_at: string
}
interface Group extends GroupSummary {
  readonly members: ReadonlyArray<{ readonly agent_id: string; readonly status: string; readonly result: string | null; readonly completed_at: string | null }>
}

/** The statuses an agent can still be killed in. */
export const killable = (status: Agent["status"]) => status === "Starting" || status === "Running" || status === "Idle"

const AGENT_EVENTS = ["agent_created", "agent_started", "agent_stopped", "agent_failed", "agent_responded"]
const TASK_EVENTS = ["task_submitted", "task_started", "task_completed", "task_failed", "task_cancelled"]
const GROUP_EVENTS = ["agent_group_created", "agent_group_member_completed"]

const time = (iso: string | null) => (iso === null ? "" : new Date(iso).toLocaleString())

const AgentList = () => {
  const agents = useLoad(() => call<{ items: ReadonlyArray<Agent>; total: number }>("agents", { query: { limit: 500 } }))
  useEvents(AGENT_EVENTS, agents.reload)
  const { error, run } = useAction()
  const [done, setDone] = useState("")
  const kill = (agent: Agent) =>
    run(async () => {
      await call("killAgent", { params: { id: agent.id } })
      setDone(t.agents.killed(agent.name))
      agents.reload()
    })
  return (
    <section aria-labelledby="agents-list">
      <h2 id="agents-list">{t.agents.list}</h2>
      <p role="status" class="ok">{done}</p>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      {agents.error !== undefined && <p role="alert" class="error">{t.common.error(agents.error)}</p>}
      {agents.data !== undefined && agents.data.items.length === 0 && <p class="muted">{t.agents.noAgents}</p>}
      {agents.data !== undefined && agents.data.items.length > 0 && (
        <TableWrap label={t.agents.list}>
          <table>
            <thead>
              <tr><th>{t.agents.name}</th><th>{t.agents.status}</th><th>{t.agents.created}</th><th>{t.agents.seed}</th><th><span class="visually-hidden">{t.agents.kill}</span></th></tr>
            </thead>
            <tbody>
              {agents.data.items.map((a) => (
                <tr key={a.id}>
                  <td><code>{a.name}</code></td>
                  <td><span class={`badge status-${a.status.toLowerCase()}`}>{a.status}</span></td>
                  <td class="when">{time(a.created_at)}</td>
                  <td class="muted id">{a.seed_id ?? ""}</td>
                  <td>{killable(a.status) && <button type="button" class="danger" aria-label={t.agents.killAgent(a.name)} onClick={() => kill(a)}>{t.agents.kill}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  )
}

const TaskTable = ({ caption, tasks }: { readonly caption: string; readonly tasks: ReadonlyArray<Task> }) => (
  <TableWrap label={caption}>
    <table>
      <caption>{caption}</caption>
      <thead><tr><th>{t.agents.task}</th><th>{t.agents.priority}</th><th>{t.agents.source}</th><th>{t.agents.started}</th></tr></thead>
      <tbody>
        {tasks.length === 0 && <tr><td colSpan={4} class="muted">{t.agents.noTasks}</td></tr>}
        {tasks.map((task) => (
          <tr key={task.id}>
            <td>{task.description}</td>
            <td>{task.priority}</td>
            <td>{task.source.kind}{task.source.id === null ? "" : ` ${task.source.id}`}</td>
            <td>{time(task.started_at ?? task.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </TableWrap>
)

const Scheduler = () => {
  const data = useLoad(() => Promise.all([call<Stats>("schedulerStats"), call<{ queued: ReadonlyArray<Task>; running: ReadonlyArray<Task> }>("schedulerTasks", { query: { limit: 200 } })]))
  useEvents(TASK_EVENTS, data.reload)
  return (
    <section aria-labelledby="scheduler">
      <h2 id="scheduler">{t.agents.queue}</h2>
      {data.error !== undefined && <p role="alert" class="error">{t.common.error(data.error)}</p>}
      {data.data !== undefined && (
        <>
          <p>{t.agents.stats(data.data[0])}</p>
          <TaskTable caption={t.agents.running} tasks={data.data[1].running} />
          <TaskTable caption={t.agents.queued} tasks={data.data[1].queued} />
        </>
      )}
    </section>
  )
}

const GroupItem = ({ group }: { readonly group: GroupSummary }) => {
  const [detail, setDetail] = useState<Group | undefined>()
  const [error, setError] = useState<string | undefined>()
  const open = (event: Event) => {
    if ((event.currentTarget as HTMLDetailsElement).open && detail === undefined)
      call<Group>("agentGroup", { params: { id: group.id } }).then(setDetail, (e: unknown) => setError(String(e)))
  }
  return (
    <li>
      <details onToggle={open}>
        <summary>{t.agents.groupSummary(group.name, group.agent_count, group.status)}</summary>
        {error !== undefined && <p role="alert" class="error">{error}</p>}
        {detail !== undefined && (
          <TableWrap label={group.name}>
            <table>
              <thead><tr><th>{t.agents.member}</th><th>{t.agents.status}</th><th>{t.agents.result}</th></tr></thead>
              <tbody>
                {detail.members.map((m) => (
                  <tr key={m.agent_id}><td><code>{m.agent_id}</code></td><td>{m.status}</td><td>{m.result ?? ""}</td></tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </details>
    </li>
  )
}

const Groups = () => {
  const groups = useLoad(() => call<ReadonlyArray<GroupSummary>>("agentGroups"))
  useEvents(GROUP_EVENTS, groups.reload)
  return (
    <section aria-labelledby="groups">
      <h2 id="groups">{t.agents.groups}</h2>
      {groups.error !== undefined && <p role="alert" class="error">{t.common.error(groups.error)}</p>}
      {groups.data !== undefined && groups.data.length === 0 && <p class="muted">{t.agents.noGroups}</p>}
      {groups.data !== undefined && groups.data.length > 0 && (
        <ul class="plain">{groups.data.map((g) => <GroupItem key={g.id} group={g} />)}</ul>
      )}
    </section>
  )
}

const AgentsPage = () => (
  <div class="stack page">
    <h1>{t.agents.title}</h1>
    <p class="muted">{t.agents.intro}</p>
    <AgentList />
    <Scheduler />
    <Groups />
  </div>
)

export default AgentsPage
