/** Light and dark themes: the system's by default, or the one chosen (kept in localStorage). */
import { useEffect, useState } from "preact/hooks"
import { t } from "./strings.js"

type Theme = "system" | "light" | "dark"
const KEY = "annal.theme"

const stored = (): Theme => {
  const value = localStorage.getItem(KEY)
  return value === "light" || value === "dark" ? value : "system"
}

export const applyTheme = (theme: Theme) => {
  if (theme === "system") delete document.documentElement.dataset.theme
  else document.documentElement.dataset.theme = theme
}

export const ThemeToggle = () => {
  const [theme, setTheme] = useState<Theme>(stored)
  useEffect(() => {
    applyTheme(theme)
    if (theme === "system") localStorage.removeItem(KEY)
    else localStorage.setItem(KEY, theme)
  }, [theme])
  return (
    <label class="theme">
      <span class="visually-hidden">{t.theme.toggle}</span>
      <select value={theme} onChange={(e) => setTheme((e.currentTarget as HTMLSelectElement).value as Theme)}>
        <option value="system">{t.theme.system}</option>
        <option value="light">{t.theme.light}</option>
        <option value="dark">{t.theme.dark}</option>
      </select>
    </label>
  )
}
