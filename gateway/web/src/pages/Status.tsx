/**
 * Status: each component's health, the language model in use, and the machine's CPU and memory
 * samples as a chart over time (refreshed every 10 s).
 */
import { useEffect } from "preact/hooks"
import { call } from "../api.js"
import { useLoad } from "../hooks.js"
import { t } from "../strings.js"
import { TableWrap } from "../ui.js"

interface Health {
  readonly healthy: boolean
  readonly detail: string | null
}
interface Status {
  readonly version: string
  readonly uptime: string
  readonly components: {
    readonly state_store: Health & { readonly events: number; readonly head_seq: number; readonly chain_valid: boolean | null }
    readonly event_bus: Health & { readonly subscribers: number }
    readonly config: Health
    readonly memory: { readonly enabled: boolean; readonly index_size: number; readonly total_entries: number }
    readonly llm: { readonly configured: boolean; readonly provider: string | null; readonly model: string | null; readonly detail: string | null }
    readonly agents: { readonly active_count: number; readonly total_forked: number; readonly total_completed: number; readonly total_failed: number }
  }
}
interface Sample {
  readonly cpu_percent: number
  readonly memory_percent: number
  readonly timestamp: string
}

const WIDTH = 600
const HEIGHT = 160

/**
 * The SVG polyline points of percentages drawn oldest to newest across the chart: x spread
 * evenly, y from 100 % at the top to 0 % at the bottom (values clamped to 0–100).
 */
export const linePoints = (values: ReadonlyArray<number>, width = WIDTH, height = HEIGHT) =>
  values
    .map((v, i) => {
      const x = values.length === 1 ? width : (i / (values.length - 1)) * width
      const y = height - (Math.min(100, Math.max(0, v)) / 100) * height
      return `${x.toFixed(1)},${y.toFixed(1)}`
    })
    .join(" ")

const Chart = ({ samples }: { readonly samples: ReadonlyArray<Sample> }) => {
  // the API lists newest first; the chart reads left to right, oldest to newest
  const ordered = [...samples].reverse()
  const newest = samples[0]!
  return (
    <figure class="stack">
      <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={t.status.chart(samples.length)}>
        <line class="axis" x1="0" y1={HEIGHT / 2} x2={WIDTH} y2={HEIGHT / 2} />
        <polyline class="cpu" points={linePoints(ordered.map((s) => s.cpu_percent))} />
        <polyline class="mem" points={linePoints(ordered.map((s) => s.memory_percent))} />
      </svg>
      <figcaption>
        <span class="key cpu">{t.status.cpu}</span> <span class="key mem">{t.status.memory}</span> — {t.status.latest(newest.cpu_percent, newest.memory_percent)}
      </figcaption>
    </figure>
  )
}

const Row = ({ name, healthy, detail }: { readonly name: string; readonly healthy: boolean; readonly detail: string }) => (
  <tr>
    <th scope="row">{name}</th>
    <td><span class={`badge ${healthy ? "ok" : "error"}`}>{healthy ? t.status.healthy : t.status.unhealthy}</span></td>
    <td>{detail}</td>
  </tr>
)

const StatusPage = () => {
  const status = useLoad(() => call<Status>("status"))
  const history = useLoad(() => call<{ snapshots: ReadonlyArray<Sample> }>("resourceHistory", { query: { last_n: 120 } }))
  useEffect(() => {
    const timer = setInterval(() => {
      status.reload()
      history.reload()
    }, 10_000)
    return () => clearInterval(timer)
  }, [])
  const s = status.data
  return (
    <div class="stack page">
      <h1>{t.status.title}</h1>
      {status.error !== undefined && <p role="alert" class="error">{t.common.error(status.error)}</p>}
      {s !== undefined && (
        <>
          <p class="muted">{t.status.summary(s.version, s.uptime)}</p>
          <section aria-labelledby="st-model">
            <h2 id="st-model">{t.status.model}</h2>
            <p>{s.components.llm.configured ? t.status.modelIs(s.components.llm.provider ?? "", s.components.llm.model ?? "") : t.status.noModel}</p>
            {s.components.llm.detail !== null && <p class="muted">{s.components.llm.detail}</p>}
          </section>
          <section aria-labelledby="st-components">
            <h2 id="st-components">{t.status.components}</h2>
            <TableWrap label={t.status.components}>
              <table>
                <thead><tr><th>{t.status.component}</th><th>{t.status.health}</th><th>{t.status.detail}</th></tr></thead>
                <tbody>
                  <Row name={t.status.stateStore} healthy={s.components.state_store.healthy}
                    detail={s.components.state_store.detail ?? t.status.storeDetail(s.components.state_store.events, s.components.state_store.head_seq, s.components.state_store.chain_valid)} />
                  <Row name={t.status.eventBus} healthy={s.components.event_bus.healthy} detail={s.components.event_bus.detail ?? t.status.busDetail(s.components.event_bus.subscribers)} />
                  <Row name={t.status.config} healthy={s.components.config.healthy} detail={s.components.config.detail ?? ""} />
                  <Row name={t.status.memoryIndex} healthy={s.components.memory.enabled} detail={t.status.memoryDetail(s.components.memory.enabled, s.components.memory.total_entries, s.components.memory.index_size)} />
                  <Row name={t.status.agents} healthy={true} detail={t.status.agentsDetail(s.components.agents)} />
                </tbody>
              </table>
            </TableWrap>
          </section>
        </>
      )}
      <section aria-labelledby="st-resources">
        <h2 id="st-resources">{t.status.resources}</h2>
        {history.error !== undefined && <p role="alert" class="error">{t.common.error(history.error)}</p>}
        {history.data !== undefined && (history.data.snapshots.length === 0 ? <p class="muted">{t.status.noSamples}</p> : <Chart samples={history.data.snapshots} />)}
      </section>
    </div>
  )
}

export default StatusPage
