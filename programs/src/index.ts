export * from "./Archive.js"
export * from "./Manifest.js"
export * as Template from "./Template.js"
export * from "./Tree.js"
