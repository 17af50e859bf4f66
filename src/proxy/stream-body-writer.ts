import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { UpstreamError } from './upstream-error.js'

/** Told how sending the body ended. */
export interface BodyWriterOwner {
  bodySent(): void
  bodyFailed(err: Error): void
}

const noop = (): void => undefined

/**
 * Sends a request body that arrives as a stream (a large or chunked client body) to the server, with
 * backpressure both ways: the stream pauses while the socket's buffer is full. With a declared length the bytes go
 * as they are (and must add up to it); without, in chunked transfer coding (empty pieces skipped: a zero-size
 * chunk would end the body). A stream error (BodyTooLargeError above all) reaches the owner as it is.
 */
export class StreamBodyWriter {
  private readonly owner: BodyWriterOwner
  private readonly socket: Socket
  private readonly stream: Readable
  /** The Content-Length of the body, or -1 for chunked. */
  private readonly declared: number
  private sent = 0
  private finished = false
  /** True while the stream waits for the socket to drain (the server reads slower than the client sends). */
  blocked = false

  constructor(owner: BodyWriterOwner, socket: Socket, stream: Readable, declared: number) {
    this.owner = owner
    this.socket = socket
    this.stream = stream
    this.declared = declared
    socket.on('drain', this.onDrain)
    stream.on('data', this.onData)
    stream.on('end', this.onEnd)
    stream.on('error', this.onError)
    stream.on('close', this.onClose)
  }

  /** Stops sending (the request is over): the rest of the stream is read and dropped, as node does with a body nobody reads. */
  abandon(): void {
    if (this.finished) return
    this.detach()
    this.stream.on('error', noop)
    this.stream.resume()
  }

  private readonly onData = (chunk: Buffer): void => {
    if (chunk.length === 0) return
    let flowing: boolean
    if (this.declared >= 0) {
      this.sent += chunk.length
      if (this.sent > this.declared) return this.fail('the request body is longer than its Content-Length')
      flowing = this.socket.write(chunk)
    } else {
      this.socket.cork()
      this.socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1')
      this.socket.write(chunk)
      flowing = this.socket.write('\r\n', 'latin1')
      this.socket.uncork()
    }
    if (!flowing) {
      this.blocked = true
      this.stream.pause()
    }
  }

  private readonly onDrain = (): void => {
    if (!this.blocked) return
    this.blocked = false
    this.stream.resume()
  }

  private readonly onEnd = (): void => {
    if (this.declared >= 0 && this.sent !== this.declared) return this.fail('the request body is shorter than its Content-Length')
    if (this.declared < 0) this.socket.write('0\r\n\r\n', 'latin1')
    this.detach()
    this.owner.bodySent()
  }

  private readonly onError = (err: Error): void => {
    if (this.finished) return
    this.detach()
    this.stream.on('error', noop)
    this.owner.bodyFailed(err)
  }

  private readonly onClose = (): void => {
    if (this.finished) return
    this.detach()
    this.owner.bodyFailed(new UpstreamError('UPSTREAM_ABORTED', 'the request body stream closed before its end'))
  }

  private fail(message: string): void {
    this.detach()
    this.stream.on('error', noop)
    this.owner.bodyFailed(new UpstreamError('UPSTREAM_BODY_LENGTH', message))
  }

  private detach(): void {
    this.finished = true
    this.blocked = false
    this.socket.off('drain', this.onDrain)
    this.stream.off('data', this.onData)
    this.stream.off('end', this.onEnd)
    this.stream.off('error', this.onError)
    this.stream.off('close', this.onClose)
  }
}
