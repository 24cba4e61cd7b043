/** Small hooks the pages share. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks"
import { urlOf } from "./api.js"

export interface Loaded<A> {
  readonly data: A | undefined
  readonly error: string | undefined
  readonly loading: boolean
  readonly reload: () => void
}

/** Loads data on mount (and when `deps` change); `reload` fetches again. */
export const useLoad = <A>(load: () => Promise<A>, deps: ReadonlyArray<unknown> = []): Loaded<A> => {
  const [state, setState] = useState<{ data: A | undefined; error: string | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true })
  const [tick, setTick] = useState(0)
  const live = useRef(true)
  useEffect(() => {
    live.current = true
    setState((s) => ({ ...s, loading: true }))
    load().then(
      (data) => live.current && setState({ data, error: undefined, loading: false }),
      (e: unknown) => live.current && setState((s) => ({ ...s, error: e instanceof Error ? e.message : String(e), loading: false }))
    )
    return () => {
      live.current = false
    }
  }, [...deps, tick])
  const reload = useCallback(() => setTick((n) => n + 1), [])
  return { ...state, reload }
}

/** Runs an action, keeping its error and whether it is under way. */
export const useAction = () => {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>()
  const run = useCallback(async <A>(action: () => Promise<A>): Promise<A | undefined> => {
    setBusy(true)
    setError(undefined)
    try {
      return await action()
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
      return undefined
    } finally {
      setBusy(false)
    }
  }, [])
  return { busy, error, run, setError }
}

/** The current time, ticking every second (for countdowns). */
export const useNow = (): number => {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [])
  return now
}

/**
 * Calls `onEvent` when the log gets an event of one of `types` (from `/api/events`, the public
 * SSE stream), at most once per 250 ms so a burst of events means one reload, not hundreds.
 */
export const useEvents = (types: ReadonlyArray<string>, onEvent: () => void) => {
  const latest = useRef(onEvent)
  latest.current = onEvent
  const key = types.join(",")
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const source = new EventSource(urlOf("events", { query: { types: key } }))
    source.onmessage = () => {
      if (timer !== undefined) return
      timer = setTimeout(() => {
        timer = undefined
        latest.current()
      }, 250)
    }
    return () => {
      source.close()
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [key])
}
