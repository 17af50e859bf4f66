/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws on the first line that
 * is not valid, and checks what the format requires beyond single lines - one group per family, TYPE before
 * its samples, no duplicate series, histogram buckets cumulative and ending with +Inf equal to _count.
 */

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface PromSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface PromFamily {
  readonly name: string
  type: PromType
  help: string | undefined
  readonly samples: PromSample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped']
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|NaN)$/

export function parsePromText(text: string): Map<string, PromFamily> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a newline')
  const families = new Map<string, PromFamily>()
  const closed = new Set<string>()
  let current: PromFamily | undefined
  const lines = text.split('\n').slice(0, -1)
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`)
    }
    if (line === '') return
    const enter = (name: string): PromFamily => {
      if (current?.name === name) return current
      if (current !== undefined) closed.add(current.name)
      if (closed.has(name)) fail(`family ${name} appears in two groups`)
      current = families.get(name) ?? { name, type: 'untyped', help: undefined, samples: [] }
      families.set(name, current)
      return current
    }
    if (line.startsWith('#')) {
      const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line) ?? fail('only # HELP and # TYPE comments are expected')
      const [keyword, name, rest] = [comment[1]!, comment[2]!, comment[3]!]
      if (!METRIC_NAME.test(name)) fail('invalid metric name')
      const family = enter(name)
      if (keyword === 'HELP') {
        if (family.help !== undefined) fail('second HELP')
        if (/\\([^n]|$)/.test(rest.replace(/\\\\/g, ''))) fail('invalid escape in HELP')
        family.help = rest
      } else {
        if (!TYPES.includes(rest)) fail('unknown type')
        if (family.samples.length > 0 || family.type !== 'untyped') fail('TYPE after samples or twice')
        family.type = rest as PromType
      }
      return
    }
    const sample = parseSample(line, fail)
    const family = enter(familyOf(sample.name, current))
    family.samples.push(sample)
  })
  for (const family of families.values()) checkFamily(family)
  return families
}

/** The family a sample name belongs to: histogram and summary samples carry suffixes. */
function familyOf(name: string, current: PromFamily | undefined): string {
  if (current !== undefined && (current.type === 'histogram' || current.type === 'summary')) {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (name === current.name + suffix && (suffix !== '_bucket' || current.type === 'histogram')) return current.name
    }
  }
  return name
}

function parseSample(line: string, fail: (why: string) => never): PromSample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line) ?? fail('no metric name')
  const name = nameMatch[0]
  let rest = line.slice(name.length)
  const labels: Record<string, string> = {}
  if (rest.startsWith('{')) {
    rest = rest.slice(1)
    while (!rest.startsWith('}')) {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(rest) ?? fail('invalid label')
      const labelName = label[1]!
      if (!LABEL_NAME.test(labelName) || labelName.startsWith('__')) fail('reserved label name')
      if (labels[labelName] !== undefined) fail(`label ${labelName} twice`)
      rest = rest.slice(label[0].length)
      let value = ''
      for (;;) {
        const c = rest[0] ?? fail('unterminated label value')
        rest = rest.slice(1)
        if (c === '"') break
        if (c !== '\\') {
          value += c
          continue
        }
        const e = rest[0]
        if (e === '\\' || e === '"') value += e
        else if (e === 'n') value += '\n'
        else fail('invalid escape in label value')
        rest = rest.slice(1)
      }
      labels[labelName] = value
      if (rest.startsWith(',')) rest = rest.slice(1)
      else if (!rest.startsWith('}')) fail('expected , or }')
    }
    rest = rest.slice(1)
  }
  const parts = /^ (\S+)(?: (-?\d+))?$/.exec(rest) ?? fail('expected " value [timestamp]"')
  if (!FLOAT.test(parts[1]!)) fail('invalid value')
  return { name, labels, value: Number(parts[1]!.replace(/^([+-]?)Inf$/, '$1Infinity')) }
}

function seriesKey(sample: PromSample): string {
  return `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`
}

function checkFamily(family: PromFamily): void {
  const seen = new Set<string>()
  for (const sample of family.samples) {
    const key = seriesKey(sample)
    if (seen.has(key)) throw new Error(`duplicate series ${key}`)
    seen.add(key)
    if (family.type === 'counter' && !(sample.value >= 0)) throw new Error(`counter ${key} is ${sample.value}`)
  }
  if (family.type === 'histogram') checkHistogram(family)
}

/** Buckets per series: le increasing, counts non-decreasing, +Inf last and equal to _count. */
function checkHistogram(family: PromFamily): void {
  const series = new Map<string, { le: number; count: number }[]>()
  const counts = new Map<string, number>()
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)))
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${sample.name} without le`)
      const bound = Number(le.replace(/^\+?Inf$/, 'Infinity'))
      if (Number.isNaN(bound)) throw new Error(`${sample.name} le="${le}"`)
      series.set(key, [...(series.get(key) ?? []), { le: bound, count: sample.value }])
    } else if (sample.name.endsWith('_count')) {
      counts.set(key, sample.value)
    }
  }
  for (const [key, buckets] of series) {
    buckets.forEach((b, i) => {
      if (i > 0 && (b.le <= buckets[i - 1]!.le || b.count < buckets[i - 1]!.count)) throw new Error(`${family.name}${key}: buckets not cumulative`)
    })
    const last = buckets.at(-1)!
    if (last.le !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`)
    if (counts.get(key) !== last.count) throw new Error(`${family.name}${key}: _count differs from the +Inf bucket`)
  }
}

/** The value of one series, or undefined when the exposition does not have it. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Readonly<Record<string, string>>): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue
      const entries = Object.entries(labels)
      if (entries.length === Object.keys(sample.labels).length && entries.every(([k, v]) => sample.labels[k] === v)) return sample.value
    }
  }
  return undefined
}

/** Every name a query may use: family names, plus _bucket, _sum and _count of histograms and summaries. */
export function exposedNames(families: Map<string, PromFamily>): Set<string> {
  const names = new Set<string>()
  for (const family of families.values()) {
    names.add(family.name)
    if (family.type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family.name + suffix)
    if (family.type === 'summary') for (const suffix of ['_sum', '_count']) names.add(family.name + suffix)
  }
  return names
}
