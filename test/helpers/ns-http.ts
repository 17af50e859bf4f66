/** HTTP requests made from inside a lab namespace, through one ns-http-agent process per namespace. */
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { NetLab } from './netns.js'
import type { AgentAnswer, AgentRequest } from './ns-http-agent.js'

const AGENT = fileURLToPath(new URL('./ns-http-agent.js', import.meta.url))

export interface NsReply {
  readonly status: number
  readonly body: string
}

export class NsHttp {
  private nextId = 1
  private readonly waiting = new Map<number, (a: AgentAnswer) => void>()
  private readonly stdin: NodeJS.WritableStream

  constructor(lab: NetLab, host: string) {
    const agent = lab.spawn(host, `http-agent-${host}`, [process.execPath, AGENT], { pipe: true })
    this.stdin = agent.child.stdin!
    createInterface({ input: agent.child.stdout! }).on('line', (line) => {
      const a = JSON.parse(line) as AgentAnswer
      this.waiting.get(a.id)?.(a)
      this.waiting.delete(a.id)
    })
    void agent.exited.then(() => {
      for (const [id, settle] of this.waiting) settle({ id, error: 'the agent exited' })
      this.waiting.clear()
    })
  }

  /** The answer, or a rejection with the transport error (ECONNREFUSED, timeout). */
  async request(url: string, init: Omit<AgentRequest, 'id' | 'url'> = {}): Promise<NsReply> {
    const id = this.nextId++
    const answer = await new Promise<AgentAnswer>((resolve) => {
      this.waiting.set(id, resolve)
      this.stdin.write(`${JSON.stringify({ id, url, ...init })}\n`)
    })
    if ('error' in answer) throw new Error(`${init.method ?? 'GET'} ${url}: ${answer.error}`)
    return answer
  }

  async json<T>(url: string, init: Omit<AgentRequest, 'id' | 'url'> = {}): Promise<T> {
    const reply = await this.request(url, init)
    if (reply.status < 200 || reply.status > 299) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${reply.status} ${reply.body.slice(0, 300)}`)
    return JSON.parse(reply.body) as T
  }

  close(): void {
    this.stdin.end()
  }
}
