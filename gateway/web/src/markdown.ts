/**
 * Markdown replies rendered safely: marked turns the model's text into HTML (raw HTML in it is
 * escaped, shown as text), DOMPurify removes anything else that could run (javascript: links,
 * handlers), and highlight.js colours code
 * blocks (a few common languages, to keep the bundle small).
 */
import DOMPurify from "dompurify"
import hljs from "highlight.js/lib/core"
import bash from "highlight.js/lib/languages/bash"
import javascript from "highlight.js/lib/languages/javascript"
import json from "highlight.js/lib/languages/json"
import markdownLang from "highlight.js/lib/languages/markdown"
import python from "highlight.js/lib/languages/python"
import typescript from "highlight.js/lib/languages/typescript"
import xml from "highlight.js/lib/languages/xml"
import yaml from "highlight.js/lib/languages/yaml"
import { Marked } from "marked"

hljs.registerLanguage("bash", bash)
hljs.registerLanguage("javascript", javascript)
hljs.registerLanguage("json", json)
hljs.registerLanguage("markdown", markdownLang)
hljs.registerLanguage("python", python)
hljs.registerLanguage("typescript", typescript)
hljs.registerLanguage("xml", xml)
hljs.registerLanguage("yaml", yaml)

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // raw HTML in a model's text is shown as text, never parsed: nothing in it can load or run
    html({ text }) {
      return escapeHtml(text)
    },
    code({ text, lang }) {
      const language = (lang ?? "").trim().split(/\s+/)[0] ?? ""
      const body = language !== "" && hljs.getLanguage(language) !== undefined
        ? hljs.highlight(text, { language, ignoreIllegals: true }).value
        : escapeHtml(text)
      return `<pre><code class="hljs${language === "" ? "" : ` language-${escapeHtml(language)}`}">${body}</code></pre>\n`
    }
  }
})

/** Sanitized HTML for a Markdown text. */
export const renderMarkdown = (text: string): string => {
  const html = marked.parse(text, { async: false })
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input", "button"], FORBID_ATTR: ["style"] })
}

// links open safely in a new tab
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("rel", "noopener noreferrer")
    node.setAttribute("target", "_blank")
  }
})
