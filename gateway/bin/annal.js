#!/usr/bin/env node
// The `annal` command. The sources are TypeScript, loaded through tsx's ESM hooks.
import { register } from "tsx/esm/api"

register()
const { main } = await import("../src/cli.ts")
main()
