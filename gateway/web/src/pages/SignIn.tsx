/** The sign-in form: the API token, once, for a session cookie. */
import { useState } from "preact/hooks"
import { ApiError, call } from "../api.js"
import { t } from "../strings.js"

export const SignIn = ({ onSignedIn }: { readonly onSignedIn: () => void }) => {
  const [token, setToken] = useState("")
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>()
  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      await call("signIn", { body: { token: token.trim() } })
      onSignedIn()
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? t.signIn.wrong : e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} class="card">
        <h1>{t.signIn.title}</h1>
        <p>{t.signIn.intro}</p>
        <label for="token">{t.signIn.token}</label>
        <input id="token" name="token" type="password" autoComplete="current-password" required value={token}
          onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)} />
        {error !== undefined && <p role="alert" class="error">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? t.signIn.working : t.signIn.submit}</button>
      </form>
    </main>
  )
}
