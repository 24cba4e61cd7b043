// Runs one call of a program's module tool. The parent starts it under Node's permission model
// (reading only this file, the program's folder and the workspace; writing only the workspace;
// no child processes, workers, addons or WASI unless granted) and sends one message:
// { module, args, context }. The module's default export (or `run`) gets (args, context); what
// it returns (a string, or anything JSON can hold) goes back as { ok: true, text }, a throw as
// { ok: false, error, code }.
import { pathToFileURL } from "node:url"

const reply = (message) => process.send(message, () => process.exit(0))

process.once("message", async ({ module, args, context }) => {
  try {
    const loaded = await import(pathToFileURL(module).href)
    const run = typeof loaded.default === "function" ? loaded.default : loaded.run
    if (typeof run !== "function") throw new Error("the module exports no default function (nor one named run)")
    const result = await run(args, context)
    reply({ ok: true, text: typeof result === "string" ? result : JSON.stringify(result ?? null) })
  } catch (e) {
    reply({ ok: false, error: e instanceof Error ? e.message : String(e), code: typeof e?.code === "string" ? e.code : null })
  }
})
