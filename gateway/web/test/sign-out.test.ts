/**
 * Signing out in Chromium against a real server: the button ends the session — the sign-in form
 * is back, the cookie is gone, the old cookie opens nothing — and signing out is on the record as
 * an access decision; signing in again works.
 */
import { describe, expect, it } from "vitest"
import { useUi } from "./browser.js"

const ui = useUi()

describe("signing out", () => {
  it("ends the session, is on the record, and the form signs in again", async () => {
    const { page, context, server } = ui
    const cookie = (await context.cookies()).find((c) => c.name === "annal_session")
    expect(cookie).toBeDefined()
    await page.getByRole("button", { name: "Sign out" }).click()
    await page.getByLabel("API token").waitFor()
    expect((await context.cookies()).find((c) => c.name === "annal_session")).toBeUndefined()
    // the old cookie opens nothing any more
    const stale = await fetch(`${server.url}/api/status`, { headers: { cookie: `annal_session=${cookie!.value}` } })
    expect(stale.status).toBe(401)
    const decisions = (await server.json<{ items: ReadonlyArray<{ action: string; allowed: boolean }> }>("/api/audit?limit=500")).body.items
    expect(decisions.filter((d) => d.action === "sign_out").map((d) => d.allowed)).toEqual([true])

    await page.getByLabel("API token").fill(server.token)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.getByRole("heading", { name: "Sessions" }).waitFor()
  }, 60_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
