/** A small client-side router over the History API: the path as state, links that push it. */
import { useEffect, useState } from "preact/hooks"

const listeners = new Set<() => void>()

/** Goes to a path of the UI without a reload. */
export const navigate = (path: string) => {
  if (path === location.pathname + location.search) return
  history.pushState(null, "", path)
  for (const l of listeners) l()
}

/** The current path; re-renders on navigation and on back/forward. */
export const usePath = (): string => {
  const [path, setPath] = useState(location.pathname)
  useEffect(() => {
    const update = () => setPath(location.pathname)
    listeners.add(update)
    addEventListener("popstate", update)
    return () => {
      listeners.delete(update)
      removeEventListener("popstate", update)
    }
  }, [])
  return path
}

/** A click on a same-origin link: navigate in place unless a modifier asks for a new tab. */
export const onLinkClick = (event: MouseEvent) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  const anchor = (event.target as Element | null)?.closest?.("a")
  if (anchor === null || anchor === undefined || anchor.target === "_blank" || anchor.origin !== location.origin) return
  if (anchor.pathname.startsWith("/api/")) return
  event.preventDefault()
  navigate(anchor.pathname + anchor.search)
}
