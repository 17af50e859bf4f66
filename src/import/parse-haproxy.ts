/**
 * Reads an haproxy.cfg into sections of tokenised lines, keeping each line's number so that whatever cannot be
 * translated can be reported where it stands. Only the syntax is handled here; meaning is convert-haproxy.ts's.
 */

export const SECTION_KINDS = ['global', 'defaults', 'frontend', 'backend', 'listen'] as const
export type SectionKind = (typeof SECTION_KINDS)[number]

export interface HaproxyLine {
  /** 1-based; for a line continued with a trailing backslash, the first physical line. */
  readonly line: number
  /** The line as written, trimmed (continuations joined). */
  readonly text: string
  readonly words: readonly string[]
}

export interface HaproxySection {
  readonly kind: SectionKind
  /** Empty for `global` and an unnamed `defaults`. */
  readonly name: string
  readonly line: number
  readonly text: string
  readonly lines: HaproxyLine[]
}

export interface ParsedHaproxy {
  readonly sections: HaproxySection[]
  /** Lines before the first section header or with an unknown header: nothing can use them. */
  readonly stray: HaproxyLine[]
}

export function parseHaproxy(text: string): ParsedHaproxy {
  const sections: HaproxySection[] = []
  const stray: HaproxyLine[] = []
  let current: HaproxySection | undefined
  for (const entry of logicalLines(text)) {
    const head = entry.words[0]!
    if ((SECTION_KINDS as readonly string[]).includes(head)) {
      current = { kind: head as SectionKind, name: entry.words[1] ?? '', line: entry.line, text: entry.text, lines: [] }
      sections.push(current)
    } else if (current === undefined) {
      stray.push(entry)
    } else {
      current.lines.push(entry)
    }
  }
  return { sections, stray }
}

/** Non-empty lines with comments removed and backslash-continued lines joined. */
function logicalLines(text: string): HaproxyLine[] {
  const physical = text.split(/\r?\n/)
  const out: HaproxyLine[] = []
  for (let i = 0; i < physical.length; i++) {
    const start = i
    let joined = physical[i]!
    while (/(^|[^\\])(\\\\)*\\$/.test(joined) && i + 1 < physical.length) {
      joined = joined.slice(0, -1) + ' ' + physical[++i]!
    }
    const words = tokenize(joined)
    if (words.length > 0) out.push({ line: start + 1, text: stripComment(joined).trim(), words })
  }
  return out
}

/** Words split on blanks; quotes group, a backslash escapes the next character, `#` outside quotes ends the line. */
export function tokenize(line: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: '"' | "'" | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote !== undefined) {
      if (c === quote) quote = undefined
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i]
      else word += c
    } else if (c === '"' || c === "'") {
      quote = c
      inWord = true
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i]
      inWord = true
    } else if (c === '#') {
      break
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) words.push(word)
  return words
}

function stripComment(line: string): string {
  let quote: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote !== undefined) {
      if (c === quote) quote = undefined
    } else if (c === '"' || c === "'") quote = c
    else if (c === '\\') i++
    else if (c === '#') return line.slice(0, i)
  }
  return line
}
