/** The shell: sign-in when needed, then the navigation and the page the path names. */
import type { ComponentType } from "preact"
import { useEffect, useState } from "preact/hooks"
import { call, setUnauthorizedHandler } from "./api.js"
import { ChatPage } from "./pages/Chat.js"
import { SignIn } from "./pages/SignIn.js"
import { navigate, onLinkClick, usePath } from "./router.js"
import { t } from "./strings.js"
import { ThemeToggle } from "./theme.js"

type PageModule = () => Promise<{ readonly default: ComponentType }>

/** Pages other than chat load when first opened, so the first load stays small. */
const PAGES: ReadonlyArray<{ readonly path: string; readonly label: string; readonly load?: PageModule }> = [
  { path: "/", label: t.nav.chat },
  { path: "/record", label: t.nav.record, load: () => import("./pages/Record.js") },
  { path: "/agents", label: t.nav.agents, load: () => import("./pages/Agents.js") },
  { path: "/approvals", label: t.nav.approvals, load: () => import("./pages/Approvals.js") },
  { path: "/memory", label: t.nav.memory, load: () => import("./pages/Memory.js") },
  { path: "/workspace", label: t.nav.workspace, load: () => import("./pages/Workspace.js") },
  { path: "/programs", label: t.nav.programs, load: () => import("./pages/Programs.js") },
  { path: "/cron", label: t.nav.cron, load: () => import("./pages/Cron.js") },
  { path: "/personas", label: t.nav.personas, load: () => import("./pages/Personas.js") },
  { path: "/budgets", label: t.nav.budgets, load: () => import("./pages/Budgets.js") },
  { path: "/status", label: t.nav.status, load: () => import("./pages/Status.js") },
  { path: "/settings", label: t.nav.settings, load: () => import("./pages/Settings.js") },
]

/** The page entry a path belongs to (`/chat/<id>` is the chat). */
export const pageOf = (path: string) =>
  path === "/" || path.startsWith("/chat") ? PAGES[0]! : PAGES.find((p) => p.path !== "/" && (path === p.path || path.startsWith(`${p.path}/`)))

const Lazy = ({ load }: { readonly load: PageModule }) => {
  const [Page, setPage] = useState<ComponentType | undefined>()
  const [error, setError] = useState<string | undefined>()
  useEffect(() => {
    let live = true
    setPage(undefined)
    load().then((m) => live && setPage(() => m.default), (e: unknown) => live && setError(String(e)))
    return () => {
      live = false
    }
  }, [load])
  if (error !== undefined) return <p role="alert">{t.common.error(error)}</p>
  return Page === undefined ? <p aria-busy="true">{t.common.loading}</p> : <Page />
}

export const App = () => {
  const [auth, setAuth] = useState<"unknown" | "in" | "out">("unknown")
  const path = usePath()
  useEffect(() => {
    setUnauthorizedHandler(() => setAuth("out"))
    call<{ signed_in: boolean }>("authSession").then(
      (s) => setAuth(s.signed_in ? "in" : "out"),
      () => setAuth("out")
    )
  }, [])
  if (auth === "unknown") return <p class="boot" aria-busy="true">{t.common.loading}</p>
  if (auth === "out") return <SignIn onSignedIn={() => setAuth("in")} />
  const page = pageOf(path)
  const signOut = async () => {
    await call("signOut").catch(() => undefined)
    setAuth("out")
    navigate("/")
  }
  return (
    <div class="shell" onClick={onLinkClick}>
      <a class="skip" href="#main">{t.skipToContent}</a>
      <header class="top">
        <a class="brand" href="/">{t.appName}</a>
        <nav aria-label={t.nav.label}>
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={p.path} aria-current={page === p ? "page" : undefined}>{p.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="tools">
          <ThemeToggle />
          <button type="button" class="quiet" onClick={signOut}>{t.signIn.signOut}</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page === undefined ? <p>{t.notFound}</p> : page.load === undefined ? <ChatPage /> : <Lazy load={page.load} />}
      </main>
    </div>
  )
}
