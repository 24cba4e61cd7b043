// `npm start` runs this first: builds the web UI into gateway/web/dist when it is missing or
// older than its sources, so a fresh clone serves the UI at `/` after `npm install && npm start`.
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const web = join(import.meta.dirname, "..")
const built = join(web, "dist", "index.html")

const newest = (path) => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

const sources = ["src", "public", "index.html", "vite.config.ts", "package.json"].map((p) => join(web, p)).filter(existsSync)
if (!existsSync(built) || Math.max(...sources.map(newest)) > statSync(built).mtimeMs) {
  console.log("building the web UI (gateway/web → gateway/web/dist)…")
  const { build } = await import("vite")
  await build({ configFile: join(web, "vite.config.ts") })
}
